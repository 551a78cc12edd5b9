"""Reads for the SCORM export and the connected package's status endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, Prefetch, Q

from curriculum.models import Course, Lesson, LessonProgress
from lms.scorm.status import Progress
from quizzes.models import Attempt, Item, Option, Quiz


@dataclass
class OfflineCourse:
    course: Course
    lessons: list[Lesson]  # published, in order, with current_version
    checks: dict[int, list[Item]]  # lesson id -> its knowledge-check items (current version + options)


def scorm_course_get(*, course_slug: str) -> OfflineCourse:
    """A published course's lessons and knowledge-check items, for the self-contained package.

    Three queries whatever the number of lessons or items. Raises Course.DoesNotExist.
    """
    course = Course.objects.published().get(slug=course_slug)
    lessons = list(
        Lesson.objects.published().filter(course=course).select_related("current_version").order_by("position")
    )
    items = (
        Item.objects.filter(course=course, is_active=True, current_version__isnull=False)
        .select_related("current_version")
        .prefetch_related(Prefetch("current_version__options", queryset=Option.objects.order_by("position")))
        .order_by("key")
    )
    checks: dict[int, list[Item]] = {}
    # Pools are a short JSON list and SQLite has no JSON containment lookup: filter here.
    for item in items:
        if "check" in item.pools:
            checks.setdefault(item.current_version.lesson_id, []).append(item)
    return OfflineCourse(course=course, lessons=lessons, checks=checks)


def scorm_progress_get(*, learner, course: Course) -> Progress:
    """The learner's lessons read and post-test results in `course`. Four queries."""
    lessons = Lesson.objects.published().filter(course=course)
    total = lessons.count()
    completed = LessonProgress.objects.filter(
        learner=learner, lesson__in=lessons, completed_at__isnull=False
    ).count()
    quiz = Quiz.objects.filter(course=course, kind=Quiz.Kind.POSTTEST, lesson__isnull=True).first()
    stats = {"n": 0, "best": None, "passed_n": 0}
    if quiz is not None:
        stats = Attempt.objects.filter(quiz=quiz, learner=learner, submitted_at__isnull=False).aggregate(
            n=Count("pk"), best=Max("score"), passed_n=Count("pk", filter=Q(passed=True))
        )
    limit = quiz.attempt_limit if quiz is not None else None
    return Progress(
        lessons_total=total,
        lessons_completed=completed,
        posttest_attempts=stats["n"],
        posttest_best=stats["best"],
        posttest_passed=stats["passed_n"] > 0,
        posttest_attempts_left=limit is None or stats["n"] < limit,
    )
