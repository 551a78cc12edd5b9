"""Launches: a verified LTI message becomes a signed-in learner on the right page.

`launch_accept()` is the only writer of LTI users, resource links, line items
and link learners. It runs after pylti1p3 and `ToolMessageLaunch` have
verified everything (signature, issuer and audience, expiry, deployment,
nonce), so an invalid launch never reaches it and creates nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Course, Lesson
from curriculum.services import learner_event_record
from lms.lti.framing import frame_origins_default
from lms.lti.models import LineItem, LtiUser, Platform, ResourceLink, ResourceLinkLearner, tool_key_generate
from quizzes.models import Attempt, Quiz

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
QUIZ_KINDS = {"pretest", "posttest"}
# An outbox event on a ResourceLinkLearner: "send this placement the learner's post-test score".
GRADE_SYNC_VERB = "lti_linked"


class LaunchTargetError(Exception):
    """The launch is genuine but does not say what to open, or names nothing we have."""


@dataclass(frozen=True)
class Target:
    course: Course
    lesson: Lesson | None = None
    quiz_kind: str = ""

    @property
    def url(self) -> str:
        if self.lesson is not None:
            return reverse("curriculum:lesson_detail", args=[self.course.slug, self.lesson.slug])
        if self.quiz_kind:
            return reverse("quizzes:quiz_detail", args=[self.course.slug, self.quiz_kind])
        return reverse("curriculum:course_detail", args=[self.course.slug])

    def as_custom(self) -> dict[str, str]:
        """The custom parameters a deep-linking response places, read back by `target_from_custom`."""
        custom = {"course": self.course.slug}
        if self.lesson is not None:
            custom["lesson"] = self.lesson.slug
        if self.quiz_kind:
            custom["quiz"] = self.quiz_kind
        return custom


def target_from_custom(custom: dict) -> Target | None:
    """What the link's custom parameters name, or None if they name nothing.

    Raises LaunchTargetError for a course, lesson or quiz kind we do not have.
    Two queries at most.
    """
    slug = (custom or {}).get("course")
    if not slug:
        return None
    try:
        course = Course.objects.published().get(slug=slug)
        lesson = None
        if custom.get("lesson"):
            lesson = Lesson.objects.published().get(course=course, slug=custom["lesson"])
    except (Course.DoesNotExist, Lesson.DoesNotExist) as exc:
        raise LaunchTargetError("This link names a course or lesson that is not published here.") from exc
    quiz_kind = custom.get("quiz", "")
    if quiz_kind and (quiz_kind not in QUIZ_KINDS or lesson is not None):
        raise LaunchTargetError("This link names a quiz we do not offer.")
    return Target(course=course, lesson=lesson, quiz_kind=quiz_kind)


@dataclass(frozen=True)
class LaunchResult:
    user: object
    resource_link: ResourceLink
    created_user: bool
    redirect_url: str


def _placeholder_email(platform: Platform, sub: str) -> str:
    digest = hashlib.sha256(f"{platform.pk}:{sub}".encode()).hexdigest()[:24]
    return f"lti-{digest}@lti.invalid"


def _full_name(claims: dict) -> str:
    name = claims.get("name") or " ".join(p for p in (claims.get("given_name"), claims.get("family_name")) if p)
    return (name or "LTI learner")[:200]


def _user_create(*, platform: Platform, sub: str, claims: dict):
    """A new account for a platform user. The platform's e-mail is used only if
    no account has it: an LMS asserting an address must not take over the
    account of whoever registered it here (they can link it themselves)."""
    User = get_user_model()
    email = (claims.get("email") or "").strip()
    if not email or User.objects.filter(email__iexact=email).exists():
        email = _placeholder_email(platform, sub)
    user = User(email=User.objects.normalize_email(email), full_name=_full_name(claims))
    user.set_unusable_password()  # signs in only through the platform until they set one
    user.save()
    return user


def _lti_user_get_or_create(*, platform: Platform, sub: str, claims: dict, now) -> tuple[LtiUser, bool]:
    found = LtiUser.objects.select_related("user").filter(platform=platform, sub=sub).first()
    if found is not None:
        found.last_launch_at = now
        found.save(update_fields=["last_launch_at"])
        return found, False
    try:
        with transaction.atomic():  # savepoint: a racing first launch may win the unique (platform, sub)
            user = _user_create(platform=platform, sub=sub, claims=claims)
            return LtiUser.objects.create(platform=platform, sub=sub, user=user, last_launch_at=now), True
    except IntegrityError:
        return LtiUser.objects.select_related("user").get(platform=platform, sub=sub), False


def _resource_link_upsert(*, platform: Platform, claims: dict, target: Target | None, now) -> ResourceLink:
    link_claim = claims.get(CLAIM + "resource_link") or {}
    context = claims.get(CLAIM + "context") or {}
    values = {
        "deployment_id": claims[CLAIM + "deployment_id"],
        "context_id": str(context.get("id", ""))[:255],
        "title": str(link_claim.get("title", ""))[:255],
        "updated_at": now,
    }
    if target is not None:
        values |= {"course": target.course, "lesson": target.lesson, "quiz_kind": target.quiz_kind}
    link = ResourceLink.objects.select_for_update().filter(platform=platform, resource_link_id=link_claim["id"]).first()
    if link is None:
        if target is None:
            raise LaunchTargetError(
                "This link does not say which course to open. Ask your instructor to place it again."
            )
        try:
            with transaction.atomic():
                return ResourceLink.objects.create(platform=platform, resource_link_id=link_claim["id"], **values)
        except IntegrityError:  # a concurrent first launch of the same link created it
            link = ResourceLink.objects.select_for_update().get(platform=platform, resource_link_id=link_claim["id"])
    for field, value in values.items():
        setattr(link, field, value)
    link.save(update_fields=list(values))
    return link


def _line_item_record(*, link: ResourceLink, claims: dict, now) -> None:
    ags = claims.get(AGS_CLAIM)
    if not ags or SCORE_SCOPE not in (ags.get("scope") or []):
        return
    url, lineitems_url = ags.get("lineitem", ""), ags.get("lineitems", "")
    if not (url or lineitems_url):
        return
    LineItem.objects.update_or_create(
        resource_link=link,
        defaults={"url": url, "lineitems_url": lineitems_url, "scopes": list(ags["scope"]), "updated_at": now},
    )


def _has_graded_post_test(*, link: ResourceLink, user) -> bool:
    graded_placement = link.lesson_id is None and link.quiz_kind in ("", Quiz.Kind.POSTTEST)
    return graded_placement and Attempt.objects.filter(
        learner=user, quiz__course_id=link.course_id, quiz__kind=Quiz.Kind.POSTTEST, submitted_at__isnull=False
    ).exists()


@transaction.atomic
def launch_accept(*, platform: Platform, claims: dict) -> LaunchResult:
    """Record a verified resource-link launch and say where the learner goes.

    Creates the account on the first launch of a `sub` (concurrent first
    launches create one), the resource link on its first launch, and the link
    learner and line item the grade passback needs; a learner's first launch
    of a graded placement after sitting the post-test records an outbox event
    (GRADE_SYNC_VERB) so that its gradebook gets the score. Raises LaunchTargetError,
    with nothing written, if the link names nothing we can open.
    """
    now = timezone.now()
    target = target_from_custom(claims.get(CLAIM + "custom") or {})
    link = _resource_link_upsert(platform=platform, claims=claims, target=target, now=now)
    lti_user, created = _lti_user_get_or_create(platform=platform, sub=claims["sub"], claims=claims, now=now)
    link_learner, first_time = ResourceLinkLearner.objects.update_or_create(
        resource_link=link,
        lti_user=lti_user,
        defaults={"last_launch_at": now},
        create_defaults={"first_launch_at": now, "last_launch_at": now},
    )
    _line_item_record(link=link, claims=claims, now=now)
    if first_time and _has_graded_post_test(link=link, user=lti_user.user):
        # The learner passed (or sat) the post-test before launching this placement:
        # its gradebook must still hear of it, so the outbox gets an event to send.
        learner_event_record(learner=lti_user.user, verb=GRADE_SYNC_VERB, obj=link_learner)
    target = Target(course=link.course, lesson=link.lesson, quiz_kind=link.quiz_kind)
    return LaunchResult(user=lti_user.user, resource_link=link, created_user=created, redirect_url=target.url)


def platform_register(*, name: str, issuer: str, client_id: str, auth_login_url: str, auth_token_url: str,
                      key_set_url: str, deployment_ids: list[str], frame_origins: list[str] | None = None,
                      auth_audience: str = "") -> Platform:
    """Register a platform with a freshly generated tool key (what the admin does on first save).

    `frame_origins` None means the default: the origins of the issuer and the auth URL.
    """
    pem, kid = tool_key_generate()
    if frame_origins is None:
        frame_origins = frame_origins_default(issuer, auth_login_url)
    return Platform.objects.create(
        name=name, issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
        auth_token_url=auth_token_url, key_set_url=key_set_url, deployment_ids=deployment_ids,
        frame_origins=frame_origins, auth_audience=auth_audience, tool_private_key=pem, tool_kid=kid,
    )
