"""quizzes.selectors' written-out reads give what the ORM gives (curriculum/rows.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.forms.models import model_to_dict

from quizzes import selectors, services
from quizzes.grading import Answer
from quizzes.models import Attempt, Quiz
from tests.quizzes.factories import key_of, quiz_with_items


def _orm(attempt_id: int) -> Attempt:
    return Attempt.objects.select_related("quiz__course", "quiz__lesson__current_version").get(pk=attempt_id)


def _fields(instance) -> dict:
    """Every concrete field's value, as the instance holds it (model_to_dict skips non-editable ones)."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [Quiz.Kind.POSTTEST, Quiz.Kind.CHECK])
def test_attempt_get_reads_the_attempt_its_quiz_course_and_lesson_as_the_orm_does(learner, kind):
    quiz = quiz_with_items(2, kind=kind, attempt_limit=3)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    answers = [Answer(v, frozenset(k["correct"])) for v, k in list(key_of(attempt).items())[:1]]
    if kind == Quiz.Kind.POSTTEST:
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)  # a score, a time, a pass
    got, want = selectors.attempt_get(attempt_id=attempt.pk, learner=learner), _orm(attempt.pk)
    assert _fields(got) == _fields(want)
    assert _fields(got.quiz) == _fields(want.quiz) and _fields(got.quiz.course) == _fields(want.quiz.course)
    if kind == Quiz.Kind.POSTTEST:
        assert isinstance(got.score, Decimal) and got.passed is False and got.submitted_at.tzinfo is not None
        assert got.quiz.lesson is None
    else:
        assert got.layout == want.layout and isinstance(got.layout, list)
        assert _fields(got.quiz.lesson) == _fields(want.quiz.lesson)
        version = got.quiz.lesson.current_version
        assert {f: getattr(version, f) for f in ("title", "objectives", "references", "anchors")} == {
            f: getattr(want.quiz.lesson.current_version, f) for f in ("title", "objectives", "references", "anchors")
        }
        assert version.get_deferred_fields() == {"source", "body_html", "toc_html"}
        assert got.quiz.lesson.title == want.quiz.lesson.title


@pytest.mark.django_db
def test_attempt_get_reads_the_related_rows_in_its_one_query(learner, django_assert_num_queries):
    quiz = quiz_with_items(1, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    with django_assert_num_queries(1):
        got = selectors.attempt_get(attempt_id=attempt.pk, learner=learner)
        assert (got.quiz.course.slug, got.quiz.lesson.title) == (quiz.course.slug, quiz.lesson.title)


@pytest.mark.django_db
def test_attempt_get_finds_nothing_of_another_learner_or_past_any_id(learner, other_learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    for attempt_id, who in ((attempt.pk, other_learner), (attempt.pk + 1, learner), (2**63, learner), (-(2**63) - 1, learner)):
        with pytest.raises(Attempt.DoesNotExist):
            selectors.attempt_get(attempt_id=attempt_id, learner=who)
    assert model_to_dict(selectors.attempt_get(attempt_id=attempt.pk, learner=learner)) == model_to_dict(attempt)


@pytest.mark.django_db
def test_attempt_questions_get_reads_checked_answers_and_choices_as_the_models_hold_them(learner):
    check = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=check)
    (first, first_key), (second, second_key) = key_of(attempt).items()
    wrong = min(first_key["wrong"])
    services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=Answer(first, frozenset({wrong})))
    attempt = selectors.attempt_get(attempt_id=attempt.pk, learner=learner)
    questions = {q.version_id: q for q in selectors.attempt_questions_get(attempt=attempt)}
    assert questions[first].is_correct is False  # a bool on both databases, not 0
    assert [o.id for o in questions[first].options if o.chosen] == [wrong]
    assert [o.is_correct for o in questions[first].options if o.id in first_key["correct"]] == [True]
    assert questions[second].is_correct is None and not any(o.chosen for o in questions[second].options)
    assert all(o.is_correct is None for o in questions[second].options)  # an unchecked question's key stays hidden
