"""Reads for the API, each scoped to who asks and with a fixed query count.

Every integrator read goes through a function here that takes the token's
organisation, so isolation is decided in one place: another organisation's
learner is simply not in the queryset (a 404, never a 403 that confirms it
exists).
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from curriculum.models import LessonProgress
from lms.models import (
    TOKEN_PREFIX,
    Enrolment,
    ExternalLearner,
    IntegrationToken,
    LinkRequest,
    Organisation,
    token_digest,
)


def integration_token_authenticate(*, raw: str) -> IntegrationToken | None:
    """The live token matching a raw `ce_<lookup>_<secret>` string, or None. One query.

    None for a malformed, unknown, revoked or wrong-secret token, or one of an
    inactive organisation; the caller cannot tell which, by design.
    """
    if not raw.startswith(TOKEN_PREFIX):
        return None
    lookup, _, secret = raw[len(TOKEN_PREFIX):].partition("_")
    if not lookup or not secret or len(lookup) > 16:
        return None
    token = (
        IntegrationToken.objects.select_related("organisation")
        .filter(lookup=lookup, revoked_at__isnull=True, organisation__is_active=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, token_digest(raw)):
        return None
    return token


def learner_progress_list(*, learner) -> QuerySet[LessonProgress]:
    """The learner's own lesson progress, newest activity first. One query."""
    return (
        LessonProgress.objects.filter(learner=learner)
        .select_related("lesson__course", "lesson__current_version", "completed_version")
        .defer(
            "lesson__current_version__source",
            "lesson__current_version__body_html",
            "lesson__current_version__toc_html",
            "lesson__course__description_html",
        )
        .order_by("-last_opened_at", "-pk")
    )


def external_learner_get(*, organisation: Organisation, external_id: str) -> ExternalLearner:
    """One of the organisation's learners with their enrolments. Two queries.

    Raises ExternalLearner.DoesNotExist, also for another organisation's learner.
    """
    return (
        ExternalLearner.objects.filter(organisation=organisation)
        .select_related("user", "organisation")
        .prefetch_related(
            Prefetch("enrolments", queryset=Enrolment.objects.select_related("course").order_by("course__slug"))
        )
        .get(external_id=external_id)
    )


def progress_feed(
    *, organisation: Organisation, updated_since: dt.datetime | None = None, completed_only: bool = False
) -> QuerySet[LessonProgress]:
    """Lesson progress of the organisation's learners on the courses it enrolled them in.

    Each row carries `external_id` (the learner as the organisation knows
    them) and `updated_at` (the later of last opened and completed), the
    feed's cursor. With `completed_only`, completions only, ordered by
    `completed_at`. One query per page whatever the page size.
    """
    identity = ExternalLearner.objects.filter(organisation=organisation, user=OuterRef("learner"))
    enrolled = Enrolment.objects.filter(
        learner__organisation=organisation, learner__user=OuterRef("learner"), course=OuterRef("lesson__course")
    )
    qs = (
        LessonProgress.objects.filter(Exists(enrolled))
        .annotate(
            external_id=Subquery(identity.values("external_id")[:1]),
            updated_at=Greatest("last_opened_at", Coalesce("completed_at", "last_opened_at")),
        )
        .select_related("lesson__course", "completed_version")
        .only(
            "first_opened_at", "last_opened_at", "completed_at", "seconds_on_page", "visits",
            "learner_id", "lesson__slug", "lesson__course__slug", "completed_version__number",
        )
    )
    if completed_only:
        qs = qs.filter(completed_at__isnull=False)
        if updated_since is not None:
            qs = qs.filter(completed_at__gte=updated_since)
    elif updated_since is not None:
        qs = qs.filter(Q(updated_at__gte=updated_since))
    return qs


def link_request_list(*, learner) -> list[LinkRequest]:
    """The learner's own link requests: open ones first, then the latest 50
    decided, newest first. One query."""
    rows = list(LinkRequest.objects.filter(user=learner).select_related("organisation")[:50])
    return sorted(rows, key=lambda r: r.status != LinkRequest.Status.PENDING)


def link_request_get(*, learner, pk: int) -> LinkRequest:
    """One link request addressed to `learner`. One query. Raises
    LinkRequest.DoesNotExist, also for another learner's (a 404, not a 403)."""
    return LinkRequest.objects.select_related("organisation").get(pk=pk, user=learner)
