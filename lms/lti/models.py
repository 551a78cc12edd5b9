"""LTI 1.3 registrations and what launches leave behind.

A `Platform` is one LMS registration (issuer + client_id) with the tool key we
generated for it. Launches create an `LtiUser` (the platform's `sub` for one of
our accounts), a `ResourceLink` (the placement and what it opens), a
`ResourceLinkLearner` (this learner launched that placement, so its gradebook
hears of their post-test) and, when the launch carries the AGS claim, the
link's `LineItem`. Launch state and nonces are not here: they live in the
shared cache (lms/lti/tool.py).
"""

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from jwcrypto.jwk import JWK

from lms.lti.framing import frame_origins_validate


def tool_key_generate() -> tuple[str, str]:
    """A new RSA-2048 tool key: (private key PEM, kid). The kid is the RFC 7638
    thumbprint, which is also what pylti1p3 and jwcrypto derive from the PEM."""
    key = JWK.generate(kty="RSA", size=2048)
    pem = key.export_to_pem(private_key=True, password=None).decode()
    return pem, key.thumbprint()


class Platform(models.Model):
    """One LMS registration. Issuer and client_id come from the platform; the
    tool key is ours, generated at registration and published at /lti/jwks/."""

    name = models.CharField(max_length=200)
    issuer = models.CharField(max_length=255, help_text="The platform's `iss`, e.g. https://canvas.instructure.com")
    client_id = models.CharField(max_length=255, help_text="The client ID the platform gave this tool.")
    auth_login_url = models.URLField("OIDC auth login URL", max_length=500)
    auth_token_url = models.URLField("OAuth2 token URL", max_length=500)
    auth_audience = models.CharField(
        max_length=500, blank=True, help_text="Audience of our token request, if not the token URL (e.g. Moodle)."
    )
    key_set_url = models.URLField("platform key set (JWKS) URL", max_length=500)
    deployment_ids = models.JSONField(
        default=list, blank=True, help_text='Deployment IDs accepted from this platform, e.g. ["1"].'
    )
    frame_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[frame_origins_validate],
        help_text="Origins whose pages may show the course in an iframe (CSP frame-ancestors), one per line, "
        "e.g. https://lms.example.edu. A new registration left empty gets the origins of the issuer and "
        "the OIDC auth URL. Empty: the course opens in a new window only.",
    )
    tool_private_key = models.TextField(editable=False)
    tool_kid = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True, help_text="Off: its launches are refused and grades held.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A launch names its registration by (iss, aud): exactly one row may answer.
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client_unique"),
            # Every write path (admin, shell, fixtures) must give the platform a key to sign with.
            models.CheckConstraint(
                condition=~Q(tool_private_key="") & ~Q(tool_kid=""), name="lti_platform_has_tool_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"

    @property
    def tool_public_jwk(self) -> dict:
        key = JWK.from_pem(self.tool_private_key.encode())
        public = json.loads(key.export_public())
        return {**public, "kid": self.tool_kid, "alg": "RS256", "use": "sig"}

    @property
    def tool_public_key_pem(self) -> str:
        return JWK.from_pem(self.tool_private_key.encode()).export_to_pem().decode()


class LtiUser(models.Model):
    """The platform's stable user id (`sub`) for one of our accounts."""

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="users")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lti_identities")
    created_at = models.DateTimeField(default=timezone.now)
    last_launch_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["platform", "sub"]
        verbose_name = "LTI user"
        constraints = [
            # Two first launches at once (two tabs, a retried POST) create one account.
            models.UniqueConstraint(fields=["platform", "sub"], name="lti_ltiuser_sub_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.sub}"


class ResourceLink(models.Model):
    """A placement of our content in the platform, and what it opens.

    The course is always set; a lesson or a quiz kind narrows it. The target
    comes from the link's custom parameters (written by our deep-linking
    response), signed by the platform in every launch.
    """

    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="resource_links")
    resource_link_id = models.CharField(max_length=255)
    deployment_id = models.CharField(max_length=255)
    context_id = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    course = models.ForeignKey("curriculum.Course", on_delete=models.PROTECT, related_name="+")
    lesson = models.ForeignKey("curriculum.Lesson", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    quiz_kind = models.CharField(max_length=10, blank=True, help_text="pretest or posttest; empty otherwise.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["platform", "resource_link_id"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "resource_link_id"], name="lti_resourcelink_id_unique"),
            # A link opens the course, one lesson, or one quiz, never a lesson and a quiz.
            models.CheckConstraint(
                condition=Q(lesson__isnull=True) | Q(quiz_kind=""), name="lti_resourcelink_one_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform_id}:{self.resource_link_id}"


class LineItem(models.Model):
    """The gradebook column of a resource link, from the launch's AGS claim."""

    resource_link = models.OneToOneField(ResourceLink, on_delete=models.CASCADE, related_name="line_item")
    url = models.URLField("line item URL", max_length=500, blank=True)
    lineitems_url = models.URLField("line items URL", max_length=500, blank=True)
    scopes = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resource_link"]
        constraints = [
            # A score needs a column: the link's own, or the container to find it in.
            models.CheckConstraint(condition=~Q(url="") | ~Q(lineitems_url=""), name="lti_lineitem_has_url"),
        ]

    def __str__(self) -> str:
        return self.url or self.lineitems_url


class ResourceLinkLearner(models.Model):
    """This learner launched this placement: its gradebook hears of their post-test."""

    resource_link = models.ForeignKey(ResourceLink, on_delete=models.CASCADE, related_name="learners")
    lti_user = models.ForeignKey(LtiUser, on_delete=models.CASCADE, related_name="resource_links")
    first_launch_at = models.DateTimeField(default=timezone.now)
    last_launch_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resource_link", "lti_user"]
        constraints = [
            models.UniqueConstraint(fields=["resource_link", "lti_user"], name="lti_rllearner_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.lti_user} in {self.resource_link}"
