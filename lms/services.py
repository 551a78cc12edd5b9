"""Writes for LMS integration: tokens, webhook subscriptions, enrolment sync.

Each function is the only write path for its table. Lesson progress is not
written here: the API calls `curriculum.services`, the same code the pages use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from curriculum.models import Course
from lms import outbox, token_cache
from lms.models import (
    Enrolment,
    ExternalLearner,
    IntegrationToken,
    LinkRequest,
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
    token_cache.forget(token.lookup)


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
        # The API asks the learner instead (enrolment_request); other callers
        # (SCORM launches, with placeholder addresses) never meet this case.
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


# --- learner-confirmed links ---------------------------------------------------------


@dataclass
class SyncResult:
    """What an enrolment sync did: an enrolment, or a link waiting for the learner."""

    enrolment: Enrolment | None  # None while the learner has not confirmed the link
    link: LinkRequest | None
    created: bool


@transaction.atomic
def enrolment_request(
    *,
    organisation: Organisation,
    external_id: str,
    email: str,
    full_name: str,
    course_slug: str,
    status: str = Enrolment.Status.ACTIVE,
) -> SyncResult:
    """The API's enrolment sync: `enrolment_sync`, except that an e-mail that
    already has an account becomes a `LinkRequest` the learner must confirm.

    Idempotent: the same request twice leaves one learner and enrolment, or
    one pending link (updated with the course). The learner is e-mailed once,
    when the link is first requested, after commit. A declined link stays
    declined: a re-sync answers as for a pending one and asks nobody again
    (the organisation is not told the learner's choice). Locks the
    organisation row until commit, as `enrolment_sync` does, so a sync and a
    confirmation of the same ID run one after the other.

    Raises ValidationError (unknown course) or Conflict (`email_taken` when
    an existing learner moves to an address another account has; `already_linked`
    when the address's account is already this organisation's learner under
    another ID, which the organisation can see for itself).
    """
    org = Organisation.objects.select_for_update().only("pk", "name").get(pk=organisation.pk)
    if not Course.objects.published().filter(slug=course_slug).exists():
        raise ValidationError({"course": f"No published course has the slug {course_slug!r}."})
    sync = {"organisation": organisation, "external_id": external_id, "email": email,
            "full_name": full_name, "course_slug": course_slug, "status": status}
    if ExternalLearner.objects.filter(organisation=organisation, external_id=external_id).exists():
        return _synced(sync)
    now = timezone.now()
    link = (
        LinkRequest.objects.filter(organisation=organisation, external_id=external_id)
        .exclude(status=LinkRequest.Status.CONFIRMED)
        .order_by("-pk")
        .first()
    )
    if link is not None:
        if link.status == LinkRequest.Status.PENDING and link.courses.get(course_slug) != status:
            link.courses = {**link.courses, course_slug: status}
            link.updated_at = now
            link.save(update_fields=["courses", "updated_at"])
        return SyncResult(enrolment=None, link=link, created=False)
    User = get_user_model()
    email = User.objects.normalize_email(email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        return _synced(sync)
    if ExternalLearner.objects.filter(organisation=organisation, user=user).exists():
        raise Conflict(
            "already_linked",
            "This e-mail address belongs to one of your learners under another ID; use that ID.",
        )
    pending_elsewhere = LinkRequest.objects.filter(
        organisation=organisation, user=user, status=LinkRequest.Status.PENDING
    ).first()
    if pending_elsewhere is not None:
        raise Conflict(
            "link_pending_other_id",
            f"You already asked to link this e-mail address under the ID {pending_elsewhere.external_id!r}.",
        )
    link = LinkRequest.objects.create(
        organisation=organisation, external_id=external_id, user=user, email=email, full_name=full_name,
        courses={course_slug: status}, created_at=now, updated_at=now,
    )
    transaction.on_commit(lambda: _link_request_notify(link_id=link.pk, organisation_name=org.name))
    return SyncResult(enrolment=None, link=link, created=True)


def _synced(sync: dict) -> SyncResult:
    enrolment, created = enrolment_sync(**sync)
    return SyncResult(enrolment=enrolment, link=None, created=created)


def _link_request_notify(*, link_id: int, organisation_name: str) -> None:
    """E-mail the account holder that an organisation asks to link them. After
    commit: a rolled-back sync sends nothing. The mail names the organisation
    and where to answer; it carries no token: the learner answers signed in."""
    link = LinkRequest.objects.select_related("user").get(pk=link_id)
    url = (settings.CREDITS_PUBLIC_URL or "") + reverse("lms_links:link_list")
    send_mail(
        subject=f"{organisation_name} asks to link your CE account",
        message=(
            f"{organisation_name} would like to add your account to its learners, so that it can enrol you "
            "in courses and see your progress, completions and certificates for them.\n\n"
            f"Nothing is shared unless you confirm. Confirm or decline here (sign in first): {url}\n\n"
            "If you do not know this organisation, decline; nothing else is needed."
        ),
        from_email=None,
        recipient_list=[link.user.email],
    )


@transaction.atomic
def link_request_decide(*, learner, link_id: int, confirm: bool) -> LinkRequest:
    """The addressed learner confirms or declines a link; only a confirmation
    creates the organisation's `ExternalLearner` and the requested enrolments.

    Idempotent: a decided link is returned as it is (a double click changes
    nothing). Locks the organisation row, then the link, until commit: the
    same order as `enrolment_request`. Raises LinkRequest.DoesNotExist for a
    link addressed to someone else (a 404: its existence is not confirmed),
    or ValidationError if the organisation's ID went to another account meanwhile.
    """
    org_id = LinkRequest.objects.values_list("organisation_id", flat=True).get(pk=link_id, user=learner)
    Organisation.objects.select_for_update().only("pk").get(pk=org_id)
    link = LinkRequest.objects.select_for_update(of=("self",)).select_related("organisation").get(
        pk=link_id, user=learner
    )
    if link.status != LinkRequest.Status.PENDING:
        return link
    now = timezone.now()
    if confirm:
        taken = ExternalLearner.objects.filter(organisation_id=org_id, external_id=link.external_id).exclude(
            user=learner
        )
        if taken.exists():
            raise ValidationError("The organisation now uses this ID for another account; ask it to sync you again.")
        identity, _ = ExternalLearner.objects.get_or_create(
            organisation_id=org_id, user=learner,
            defaults={"external_id": link.external_id, "created_at": now, "updated_at": now},
        )
        for course in Course.objects.published().filter(slug__in=list(link.courses)):
            Enrolment.objects.get_or_create(
                learner=identity, course=course,
                defaults={"status": link.courses[course.slug], "created_at": now, "updated_at": now},
            )
    link.status = LinkRequest.Status.CONFIRMED if confirm else LinkRequest.Status.DECLINED
    link.decided_at = link.updated_at = now
    link.save(update_fields=["status", "decided_at", "updated_at"])
    return link
