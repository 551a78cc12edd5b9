"""Writes for LMS integration: tokens, webhook subscriptions, enrolment sync.

Each function is the only write path for its table. Lesson progress is not
written here: the API calls `curriculum.services`, the same code the pages use.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from curriculum.models import Course
from lms import outbox
from lms.models import (
    Enrolment,
    ExternalLearner,
    IntegrationToken,
    Organisation,
    Scope,
    WebhookSubscription,
)

# last_used_at is for people ("is this token still used?"), not an audit log:
# writing it at most once a minute keeps a busy integration from turning every
# read into a write on one hot row.
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)


class Conflict(Exception):
    """The request is valid but clashes with existing data (HTTP 409)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def integration_token_create(
    *, organisation: Organisation, name: str, scopes: list[str], created_by=None
) -> tuple[IntegrationToken, str]:
    """Create a token; returns it with the raw secret, which is not stored and cannot be shown again.

    Raises ValidationError for an unknown scope or an empty list.
    """
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise ValidationError(
            {"scopes": f"Choose from {', '.join(Scope.values)}; unknown: {', '.join(unknown) or 'none given'}."}
        )
    raw, lookup, digest = IntegrationToken.generate()
    token = IntegrationToken.objects.create(
        organisation=organisation,
        name=name,
        lookup=lookup,
        digest=digest,
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    return token, raw


def integration_token_revoke(*, token: IntegrationToken) -> None:
    """Revoke a token for good; its next request gets a 401. Idempotent."""
    IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def integration_token_touch(*, token: IntegrationToken) -> None:
    """Record use, at most once per TOKEN_TOUCH_INTERVAL. Zero or one query."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def webhook_subscription_create(
    *, organisation: Organisation, url: str, events: list[str]
) -> tuple[WebhookSubscription, str]:
    """Subscribe a URL to event types; returns it with its signing secret (show it once).

    Raises ValidationError for an unknown event type.
    """
    unknown = sorted(set(events) - set(outbox.event_type_names()))
    if unknown or not events:
        raise ValidationError(
            {"events": f"Choose from {', '.join(outbox.event_type_names())}; unknown: {', '.join(unknown) or 'none given'}."}
        )
    secret = WebhookSubscription.generate_secret()
    subscription = WebhookSubscription(organisation=organisation, url=url, events=sorted(set(events)), secret=secret)
    subscription.full_clean()
    subscription.save()
    return subscription, secret


@transaction.atomic
def enrolment_sync(
    *,
    organisation: Organisation,
    external_id: str,
    email: str,
    full_name: str,
    course_slug: str,
    status: str = Enrolment.Status.ACTIVE,
) -> tuple[Enrolment, bool]:
    """Create or update a learner and their enrolment, keyed by the integrator's ID.

    Returns (enrolment, created). The same request twice leaves one learner and
    one enrolment. Locks the organisation row until commit: two syncs of one
    new learner at once would otherwise both see no row and both create a
    user, and the loser would fail on the e-mail constraint.

    Raises ValidationError (unknown course) or Conflict (the e-mail belongs to
    another account). Five to nine queries.
    """
    Organisation.objects.select_for_update().only("pk").get(pk=organisation.pk)
    course = Course.objects.published().filter(slug=course_slug).first()
    if course is None:
        raise ValidationError({"course": f"No published course has the slug {course_slug!r}."})
    User = get_user_model()
    now = timezone.now()
    email = User.objects.normalize_email(email)
    identity = (
        ExternalLearner.objects.select_related("user")
        .filter(organisation=organisation, external_id=external_id)
        .first()
    )
    if identity is None:
        # An existing account is never linked by e-mail alone: an integrator
        # that knew a clinician's address could otherwise read their progress.
        # TODO(#7): a learner-confirmed link (LTI launch or signed invitation).
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(
                "email_taken",
                "An account with this e-mail address already exists; it cannot be linked by e-mail.",
            )
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
        identity = ExternalLearner.objects.create(
            organisation=organisation, external_id=external_id, user=user, created_at=now, updated_at=now
        )
    else:
        user = identity.user
        changed = []
        if user.email.lower() != email.lower():
            if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                raise Conflict("email_taken", "Another account already uses this e-mail address.")
            user.email = email
            changed.append("email")
        if user.full_name != full_name:
            user.full_name = full_name
            changed.append("full_name")
        if changed:
            user.save(update_fields=changed)
            ExternalLearner.objects.filter(pk=identity.pk).update(updated_at=now)
    enrolment, created = Enrolment.objects.get_or_create(
        learner=identity, course=course, defaults={"status": status, "created_at": now, "updated_at": now}
    )
    if not created and enrolment.status != status:
        enrolment.status = status
        enrolment.updated_at = now
        enrolment.save(update_fields=["status", "updated_at"])
    enrolment.course = course
    enrolment.learner = identity
    return enrolment, created
