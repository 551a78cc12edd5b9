"""Reads for the QTI export: a course's question bank with its answer key.

Staff-only by nature: everything read here (keys, rationales) is exactly what
learner-facing readers in `quizzes.selectors` are built never to load.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from curriculum.models import Course, Objective
from quizzes.models import Item, Option, Quiz


@dataclass
class Bank:
    course: Course
    objectives: list[Objective]  # active, in lesson and position order
    items: list[Item]  # active items with current_version (+ objective, lesson) and its options
    quizzes: dict[str, Quiz]  # pretest / posttest by kind, when the course has them


def qti_bank_get(*, course_slug: str) -> Bank:
    """The course's active items (current versions with options in file order),
    objectives and pre-/post-test settings.

    Five queries whatever the number of items or options. Raises Course.DoesNotExist.
    """
    course = Course.objects.get(slug=course_slug)
    objectives = list(
        Objective.objects.filter(course=course, is_active=True)
        .select_related("lesson")
        .order_by("lesson__position", "position")
    )
    items = list(
        Item.objects.filter(course=course, is_active=True, current_version__isnull=False)
        .select_related("current_version__objective", "current_version__lesson")
        # The options of each current version, in the item file's order: that
        # order gives the stable choice identifiers A, B, C...
        .prefetch_related(
            Prefetch("current_version__options", queryset=Option.objects.order_by("position"))
        )
        .order_by("current_version__lesson__position", "key")
    )
    quizzes = {
        quiz.kind: quiz
        for quiz in Quiz.objects.filter(
            course=course, lesson__isnull=True, kind__in=[Quiz.Kind.PRETEST, Quiz.Kind.POSTTEST]
        )
    }
    return Bank(course=course, objectives=objectives, items=items, quizzes=quizzes)
