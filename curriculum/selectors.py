"""Reads for the curriculum pages and APIs, each with a fixed query count."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, FilteredRelation, Prefetch, Q, Sum
from django.utils import timezone

from curriculum.models import Course, Interaction, Lesson, LessonProgress, LessonVersion, Objective

# The catalogue's one query, written out for the same reason as the lesson
# page's (below): the ORM spent about 2 ms of Python building the counted,
# correlated query it replaces. Both counts are scalar subqueries over one
# course's lessons; the learner's only reads that learner's progress rows.
_CATALOGUE_SQL = """
    SELECT course.id, course.slug, course.title, course.summary, course.estimated_minutes,
           course.release_date, course.expiry_date,
           (SELECT COUNT(*) FROM curriculum_lesson lesson
             WHERE lesson.course_id = course.id AND lesson.is_published
               AND lesson.current_version_id IS NOT NULL),
           (SELECT COUNT(*) FROM curriculum_lessonprogress progress
              JOIN curriculum_lesson lesson ON lesson.id = progress.lesson_id
             WHERE progress.learner_id = %s AND progress.completed_at IS NOT NULL
               AND lesson.course_id = course.id AND lesson.is_published
               AND lesson.current_version_id IS NOT NULL)
      FROM curriculum_course course
     WHERE course.is_published
     ORDER BY course.title
"""
_CATALOGUE_FIELDS = ["id", "slug", "title", "summary", "estimated_minutes", "release_date", "expiry_date"]


def catalogue_list(*, learner=None) -> list[Course]:
    """Published courses by title: the catalogue page, the learner dashboard, the API's course list. One query.

    Each course has its slug, title, summary, minutes, release and expiry
    dates (other fields are deferred), `lesson_count` (published lessons
    with a version) and `completed_count` (those the signed-in `learner`
    completed; 0 for anyone else).
    """
    learner_id = learner.pk if learner is not None and learner.is_authenticated else None
    with connection.cursor() as cursor:
        cursor.execute(_CATALOGUE_SQL, [learner_id])  # `learner_id = NULL` matches no row: 0 for anonymous readers
        rows = cursor.fetchall()
    courses = []
    for row in rows:
        course = Course.from_db(connection.alias, _CATALOGUE_FIELDS, (*row[:5], _date(row[5]), _date(row[6])))
        course.lesson_count, course.completed_count = row[7], row[8]
        courses.append(course)
    return courses


def course_outline_get(*, slug: str, learner=None) -> Course:
    """A published course with its published lessons (titles only) and active objectives.

    With a signed-in `learner`, each lesson carries `mine`: that learner's
    progress row or None, joined into the lessons query. Three queries
    whatever the course size. Raises Course.DoesNotExist.
    """
    # The outline needs two fields of each version; `only` also skips decoding
    # its JSON (objectives, references, anchors), a third of this page's Python.
    lessons = (
        Lesson.objects.published()
        .select_related("current_version")
        .only("slug", "position", "course_id", "current_version__title", "current_version__estimated_minutes")
    )
    if learner is not None and learner.is_authenticated:
        lessons = lessons.annotate(
            mine=FilteredRelation("progress", condition=Q(progress__learner=learner))
        ).select_related("mine")
    course = Course.objects.published().prefetch_related(
        Prefetch("lessons", queryset=lessons.order_by("position"), to_attr="published_lessons"),
        Prefetch(
            "objectives",
            queryset=Objective.objects.filter(is_active=True).order_by("lesson__position", "position"),
            to_attr="active_objectives",
        ),
    ).get(slug=slug)
    for lesson in course.published_lessons:
        _without_progress(lesson)
    return course


def course_page_static_get(*, slug: str, version_ids: Iterable[int]) -> tuple[Course, dict[int, list[dict]]]:
    """What the course page shows that no learner's progress changes: the published course,
    and the objectives of each given lesson version, as published in it ({version id:
    [{"key", "text"}]}). Two queries. Raises Course.DoesNotExist.

    The objectives come from the versions, not from the `Objective` rows: both
    are written from the same lesson file, and a version is never updated, so
    what this returns is fixed by the course row and the version ids (the
    course page caches it on those; see `curriculum.views.course_static_parts`).
    """
    course = Course.objects.published().get(slug=slug)
    objectives = dict(LessonVersion.objects.filter(pk__in=list(version_ids)).values_list("pk", "objectives"))
    return course, objectives


def lesson_detail_get(*, course_slug: str, lesson_slug: str) -> Lesson:
    """A published lesson with its course and current version. One query.

    Raises Lesson.DoesNotExist.
    """
    return (
        Lesson.objects.published()
        .select_related("course", "current_version")
        .get(course__slug=course_slug, course__is_published=True, slug=lesson_slug)
    )


# The lesson page's one query, written out: built through the ORM (a
# FilteredRelation join, select_related, only) it cost about 3.5 ms of Python
# per request to compile and to turn into model instances, ten times the
# 0.3 ms of running it (PostgreSQL, seven lessons). The learner is in the JOIN's
# ON clause, so lessons never opened stay in the list with NULL progress.
# Values are passed as parameters, never formatted in; the tables are the
# models' default names.
_LESSON_PAGE_SQL = """
    SELECT lesson.id, lesson.slug, lesson.position, lesson.current_version_id,
           course.id, course.slug, course.title, course.updated_at,
           version.title, version.estimated_minutes, version.content_hash,
           progress.id, progress.last_opened_at, progress.completed_at
      FROM curriculum_lesson lesson
      JOIN curriculum_course course ON course.id = lesson.course_id
      JOIN curriculum_lessonversion version ON version.id = lesson.current_version_id
      LEFT JOIN curriculum_lessonprogress progress ON progress.lesson_id = lesson.id AND progress.learner_id = %s
     WHERE course.slug = %s AND course.is_published AND lesson.is_published
     ORDER BY lesson.position
"""


@dataclass(slots=True)
class PageCourse:
    """The course as the lesson and course pages show it (not a model instance)."""

    pk: int
    slug: str
    title: str
    updated_at: dt.datetime | str  # as the cursor gives it: only compared, as the course page's cache key


@dataclass(slots=True)
class PageVersion:
    title: str
    estimated_minutes: int
    content_hash: str


@dataclass(slots=True)
class PageProgress:
    """A learner's row for one lesson: `lesson_progress_open` takes it as `current`."""

    pk: int
    last_opened_at: dt.datetime
    completed_at: dt.datetime | None


@dataclass
class PageLesson:
    """A lesson as the lesson and course pages show it; the views add display fields (state, url...)."""

    pk: int
    slug: str
    position: int
    current_version_id: int
    course: PageCourse
    current_version: PageVersion
    mine: PageProgress | None


def lesson_page_list(*, course_slug: str, learner=None) -> list[PageLesson]:
    """A published course's published lessons in order, for the lesson and course pages. One query.

    Plain rows, not model instances (building three instances per lesson cost
    two thirds of this function): each lesson carries its course (id, slug,
    title and `updated_at`; one object shared by all), its current version's title,
    minutes and content hash (not its body: see `lesson_version_get`), and
    `mine`: for a signed-in learner, that learner's progress (id, last
    opened, completed) or None; always None for anyone else. Empty if the
    course is not published.
    """
    learner_id = learner.pk if learner is not None and learner.is_authenticated else None
    with connection.cursor() as cursor:
        # `progress.learner_id = NULL` matches nothing: anonymous readers get no progress.
        cursor.execute(_LESSON_PAGE_SQL, [learner_id, course_slug])
        rows = cursor.fetchall()
    if not rows:
        return []
    course = PageCourse(*rows[0][4:8])
    return [
        PageLesson(
            pk=row[0],
            slug=row[1],
            position=row[2],
            current_version_id=row[3],
            course=course,
            current_version=PageVersion(*row[8:11]),
            mine=None if row[11] is None else PageProgress(row[11], aware(row[12]), aware(row[13])),
        )
        for row in rows
    ]


def _date(value):
    """A date from the cursor as the ORM would return it: SQLite's raw cursor may give the ISO text."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def aware(value):
    """A datetime from a raw cursor as the ORM would return it: SQLite gives naive UTC."""
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, connection.timezone)
    return value




def _without_progress(lesson: Lesson) -> Lesson:
    if not hasattr(lesson, "mine"):
        lesson.mine = None
    return lesson


# What the lesson page shows of a version beyond its title.
_VERSION_PAGE_FIELDS = (
    "lesson_id", "number", "title", "estimated_minutes", "last_reviewed", "objectives", "toc_html", "body_html",
    "content_hash",
)


@functools.lru_cache(maxsize=256)
def _lesson_version_cached(version_id: int, content_hash: str) -> LessonVersion:
    return LessonVersion.objects.only(*_VERSION_PAGE_FIELDS).get(pk=version_id, content_hash=content_hash)


def lesson_version_get(*, version_id: int, content_hash: str) -> LessonVersion:
    """A lesson version's page content (title, objectives, contents, body). One query, none when cached.

    Cached in this process by id: a version is never updated (a change is a
    new row with a new id, and the lesson's `current_version` moves to it), so
    an entry can never be stale, and every app server may hold its own copy.
    The content hash in the key guards against ids reused after a database is
    re-created. At most 256 versions (about 40 kB each). The caller must not
    modify the returned object: it is shared between requests.
    Raises LessonVersion.DoesNotExist.
    """
    return _lesson_version_cached(version_id, content_hash)


lesson_version_get.cache_clear = _lesson_version_cached.cache_clear


def lesson_siblings(*, lesson: Lesson) -> list[Lesson]:
    """The course's published lessons in order, titles only (for previous/next). One query."""
    return list(
        Lesson.objects.published()
        .filter(course_id=lesson.course_id)
        .select_related("current_version")
        .only("slug", "position", "course_id", "current_version__title", "current_version__estimated_minutes")
        .order_by("position")
    )


def lesson_progress_map(*, learner, course: Course) -> dict[int, LessonProgress]:
    """The learner's progress rows on a course, keyed by lesson id. One query (none if anonymous)."""
    if learner is None or not learner.is_authenticated:
        return {}
    rows = LessonProgress.objects.filter(learner=learner, lesson__course=course)
    return {row.lesson_id: row for row in rows}


def learner_course_progress(*, learner, course: Course) -> dict:
    """Totals for one learner on one course (lessons done, minutes). One query."""
    totals = LessonProgress.objects.filter(
        learner=learner, lesson__course=course, lesson__is_published=True
    ).aggregate(
        completed=Count("pk", filter=Q(completed_at__isnull=False)),
        seconds=Sum("seconds_on_page"),
    )
    return {"completed": totals["completed"] or 0, "seconds": totals["seconds"] or 0}


def interaction_list(*, course: Course, query: str = "", drug_class: str = "", severity: str = ""):
    """Active interaction rows filtered by drug name or class text, class and severity. One query."""
    qs = Interaction.objects.filter(course=course, is_active=True)
    if query:
        qs = qs.filter(Q(drug__icontains=query) | Q(drug_class__icontains=query) | Q(mechanism__icontains=query))
    if drug_class:
        qs = qs.filter(drug_class=drug_class)
    if severity:
        qs = qs.filter(severity=severity)
    return qs.order_by("position")


def interaction_classes(*, course: Course) -> list[str]:
    """The distinct drug classes of a course's table, for the filter menu. One query."""
    return list(
        Interaction.objects.filter(course=course, is_active=True)
        .order_by("drug_class")
        .values_list("drug_class", flat=True)
        .distinct()
    )


# The distinct verbs of the outbox, one probe of the (verb, object_ref) unique
# index per verb: each step takes the least verb after the last. `SELECT
# DISTINCT verb` read every event: 148 ms at 1.5 million, against 0.13 ms
# (issue #8). PostgreSQL 15 has no skip scan to do this itself.
_LEARNER_EVENT_VERBS_SQL = """
    WITH RECURSIVE verbs(verb) AS (
        SELECT min(verb) FROM curriculum_learnerevent
        UNION ALL
        SELECT (SELECT min(event.verb) FROM curriculum_learnerevent event WHERE event.verb > verbs.verb)
          FROM verbs WHERE verbs.verb IS NOT NULL
    )
    SELECT verb FROM verbs WHERE verb IS NOT NULL
"""


def learner_event_verbs() -> list[str]:
    """Every verb the outbox holds, in order (the staff list's filter)."""
    with connection.cursor() as cursor:
        cursor.execute(_LEARNER_EVENT_VERBS_SQL)
        return [verb for (verb,) in cursor.fetchall()]
