"""Factories and helpers for the credit tests (placeholder text only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from credits.models import Activity, CreditDesignation, CreditType, Evaluation
from curriculum.models import Lesson, LessonProgress
from quizzes.models import Attempt, Quiz
from tests.factories import CourseFactory, LessonFactory

AMA_STATEMENT = "The provider designates this enduring material for a maximum of 2.00 AMA PRA Category 1 Credits™."
VALID_NPI = "1234567893"  # CMS's worked example of the NPI check digit


class ActivityCourseFactory(CourseFactory):
    disclosure_mitigation = "No relevant financial relationships; nothing to mitigate."


class ActivityFactory(factory.django.DjangoModelFactory):
    """A published activity whose publish check is clean (add designations)."""

    class Meta:
        model = Activity

    course = factory.SubFactory(ActivityCourseFactory)
    provider_name = "Placeholder Provider"
    provider_address = "1 Placeholder Street, Columbus, OH"
    is_published = True
    published_at = factory.LazyFunction(timezone.now)


class DesignationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditDesignation

    activity = factory.SubFactory(ActivityFactory)
    credit_type = CreditType.AMA_PRA_1
    max_amount = Decimal("2.00")
    increment = Decimal("0.25")
    designation_statement = AMA_STATEMENT
    accreditation_statement = "The provider is accredited to provide continuing medical education (placeholder)."
    uan = ""


def acpe_designation(activity: Activity) -> CreditDesignation:
    return DesignationFactory(
        activity=activity, credit_type=CreditType.ACPE,
        designation_statement="This activity provides 2.0 ACPE contact hours.",
        accreditation_statement="Accredited by ACPE as a provider (placeholder).",
        uan="0000-0000-26-001-H01-P",
    )


def activity_with_course(*, n_lessons: int = 2, posttest: bool = True, **activity_fields) -> Activity:
    """A published activity offering AMA credit, with lessons and (optionally) a post-test."""
    activity = ActivityFactory(**activity_fields)
    for _ in range(n_lessons):
        LessonFactory(course=activity.course)
    if posttest:
        Quiz.objects.create(course=activity.course, kind=Quiz.Kind.POSTTEST, title="Post-test")
    DesignationFactory(activity=activity)
    return activity


def lessons_complete(learner, activity: Activity, *, at: dt.datetime | None = None) -> None:
    at = at or timezone.now()
    for lesson in Lesson.objects.filter(course=activity.course).select_related("current_version"):
        LessonProgress.objects.create(
            learner=learner, lesson=lesson, first_opened_at=at, last_opened_at=at, completed_at=at,
            completed_version=lesson.current_version, seconds_on_page=600, visits=1,
        )


def posttest_pass(learner, activity: Activity, *, passed: bool = True) -> Attempt:
    quiz = Quiz.objects.get(course=activity.course, kind=Quiz.Kind.POSTTEST)
    now = timezone.now()
    number = Attempt.objects.filter(learner=learner, quiz=quiz).count() + 1
    return Attempt.objects.create(
        learner=learner, quiz=quiz, number=number, seed=1, layout=[], started_at=now, submitted_at=now,
        correct_count=4 if passed else 1, question_count=5, score=Decimal("80.00" if passed else "20.00"),
        passed=passed,
    )


def evaluation_submit(learner, activity: Activity) -> Evaluation:
    from credits import selectors, services

    objectives = selectors.evaluation_objectives(activity=activity)
    return services.evaluation_submit(
        learner=learner, activity=activity, ratings={o.pk: 4 for o in objectives},
        practice_change=Evaluation.PracticeChange.CONSIDER, perceived_bias=False,
    )


def everything_complete(learner, activity: Activity) -> None:
    lessons_complete(learner, activity)
    posttest_pass(learner, activity)
    evaluation_submit(learner, activity)


def claim_input(**overrides):
    from credits.services import ClaimInput

    values = {"credit_type": CreditType.AMA_PRA_1, "hours": Decimal("1.50"), "attested": True,
              "full_name": "Jane Q. Placeholder, MD", "given_name": "Jane", "family_name": "Placeholder",
              "npi": VALID_NPI}
    values.update(overrides)
    return ClaimInput(**values)
