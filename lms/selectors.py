"""Reads for the API, each scoped to who asks and with a fixed query count.

Every integrator read goes through a function here that takes the token's
organisation, so isolation is decided in one place: another organisation's
learner is simply not in the queryset (a 404, never a 403 that confirms it
exists).
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.db import connection
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from curriculum.models import Lesson, LessonProgress
from curriculum.selectors import aware
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


# What `me/progress` shows of a row, in this order.
PROGRESS_VALUES = (
    "lesson__course__slug", "lesson__slug", "first_opened_at", "last_opened_at", "completed_at",
    "completed_version__number", "seconds_on_page", "visits",
)
# Written out, as the lesson page's query is (curriculum/selectors.py): the
# ORM's joins cost more Python to build than the query costs to run. Values
# are parameters, never formatted in.
_PROGRESS_SQL = """
    SELECT course.slug, lesson.slug, progress.first_opened_at, progress.last_opened_at, progress.completed_at,
           version.number, progress.seconds_on_page, progress.visits
      FROM curriculum_lessonprogress progress
      JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
      JOIN curriculum_course course ON course.id = lesson.course_id
      LEFT JOIN curriculum_lessonversion version ON version.id = progress.completed_version_id
     WHERE progress.learner_id = %s
     ORDER BY progress.last_opened_at DESC, progress.id DESC
"""


def learner_progress_list(*, learner) -> list[dict]:
    """The learner's own lesson progress, newest activity first, as `PROGRESS_VALUES` dicts. One query.

    Reads only the listed columns: the completed version's row carries the
    lesson's whole source and HTML, which the list never needs.
    """
    with connection.cursor() as cursor:
        cursor.execute(_PROGRESS_SQL, [learner.pk])
        rows = cursor.fetchall()
    return [
        dict(zip(PROGRESS_VALUES, (*row[:2], *(aware(value) for value in row[2:5]), *row[5:]), strict=True))
        for row in rows
    ]


# lesson_content_key's query, written out: the ORM spent longer building it
# than PostgreSQL running it. Values are parameters, never formatted in.
_LESSON_KEY_SQL = """
    SELECT lesson.id, lesson.current_version_id, lesson.position
      FROM curriculum_lesson lesson
      JOIN curriculum_course course ON course.id = lesson.course_id
     WHERE course.slug = %s AND course.is_published
       AND lesson.slug = %s AND lesson.is_published AND lesson.current_version_id IS NOT NULL
"""


def lesson_content_key(*, course_slug: str, lesson_slug: str) -> tuple[int, int, int]:
    """(lesson id, current version id, position) of a published lesson. One small query.

    What the API's lesson payload depends on besides the URL: versions are
    immutable and a revision makes a new one, so a payload cached under this
    key is never stale (lms/api/v1/views.py). Reads no lesson text. Raises
    Lesson.DoesNotExist, as `curriculum.selectors.lesson_detail_get` would.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LESSON_KEY_SQL, [course_slug, lesson_slug])
        row = cursor.fetchone()  # (course, slug) is unique
    if row is None:
        raise Lesson.DoesNotExist("No such published lesson.")
    return tuple(row)


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
    them) and `updated_at` (the later of last opened and completed, a stored
    column), the feed's cursor. With `completed_only`, completions only,
    ordered by `completed_at`. One query per page whatever the page size; the
    page is read along `curriculum_lp_updated_idx` (or `_completed_idx`) and
    stops after page size + 1 matching rows, instead of sorting every
    enrolled learner's progress. Each row walked costs two unique-index
    probes (identity, enrolment), so a page reads about page size ÷ the
    organisation's share of all progress rows: constant as learners grow in
    proportion, more rows walked for an organisation with a small share.
    """
    identity = ExternalLearner.objects.filter(organisation=organisation, user=OuterRef("learner")).order_by()
    enrolled = Enrolment.objects.filter(
        learner__organisation=organisation, learner__user=OuterRef("learner"), course=OuterRef("lesson__course")
    ).order_by()
    qs = (
        # "Has an enrolment" as a scalar subquery, not Exists(): PostgreSQL
        # turns EXISTS into a semi-join, and with its estimate for it (one
        # row) joined every enrolment to every row walked (126,894
        # comparisons for a page of 51 at 2,000 learners, 55 ms); a scalar
        # subquery stays a per-row index probe along the feed's index (6 ms).
        LessonProgress.objects.alias(enrolment=Subquery(enrolled.values("pk")[:1]))
        .filter(enrolment__isnull=False)
        .annotate(external_id=Subquery(identity.values("external_id")[:1]))
        .select_related("lesson__course", "completed_version")
        .only(
            "first_opened_at", "last_opened_at", "completed_at", "updated_at", "seconds_on_page", "visits",
            "learner_id", "lesson__slug", "lesson__course__slug", "completed_version__number",
        )
    )
    if completed_only:
        qs = qs.filter(completed_at__isnull=False)
        if updated_since is not None:
            qs = qs.filter(completed_at__gte=updated_since)
    elif updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return qs


# What a feed row shows, as `.values()` names: a page of plain dicts, not four
# model instances per row (progress, lesson, course, version), which cost more
# than the page's query (issue #8). Cursor pagination reads `updated_at` /
# `completed_at` from the dicts as it would from instances.
FEED_VALUES = (
    "pk", "external_id", "lesson__course__slug", "lesson__slug", "first_opened_at", "last_opened_at",
    "completed_at", "completed_version__number", "seconds_on_page", "updated_at",
)


def link_request_list(*, learner) -> list[LinkRequest]:
    """The learner's own link requests: open ones first, then the latest 50
    decided, newest first. One query."""
    rows = list(LinkRequest.objects.filter(user=learner).select_related("organisation")[:50])
    return sorted(rows, key=lambda r: r.status != LinkRequest.Status.PENDING)


def link_request_get(*, learner, pk: int) -> LinkRequest:
    """One link request addressed to `learner`. One query. Raises
    LinkRequest.DoesNotExist, also for another learner's (a 404, not a 403)."""
    return LinkRequest.objects.select_related("organisation").get(pk=pk, user=learner)
