"""Concurrency on PostgreSQL: real connections, released together by a barrier.

On SQLite, or inside a test transaction, select_for_update proves nothing, so
these carry the postgres marker (tests/conftest.py skips them there; CI fails
on a skip).
"""

import threading

import pytest
from django.db import close_old_connections, connection

from curriculum.models import LearnerEvent
from quizzes import services
from quizzes.grading import Answer
from quizzes.models import Attempt, Response
from tests.quizzes.factories import key_of, quiz_with_items


def _run_together(n: int, work) -> list:
    """Run work(i) in n threads on their own connections, released at once; return results or errors."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    close_old_connections()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_grade_once(learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    right = [Answer(v, frozenset(k["correct"])) for v, k in key.items()]
    wrong = [Answer(v, frozenset({min(k["wrong"])})) for v, k in key.items()]

    results = _run_together(
        2, lambda i: services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[right, wrong][i])
    )

    assert all(isinstance(r, Attempt) for r in results), results
    assert results[0].score == results[1].score
    assert results[0].submitted_at == results[1].submitted_at
    assert LearnerEvent.objects.filter(object_ref=f"quizzes.attempt:{attempt.pk}").count() == 1
    stored = Attempt.objects.get(pk=attempt.pk)
    correct = Response.objects.filter(attempt=attempt, is_correct=True).count()
    assert correct == stored.correct_count == (4 if stored.passed else 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_share_one_attempt(learner):
    quiz = quiz_with_items(2)

    results = _run_together(4, lambda i: services.attempt_start(learner=learner, quiz=quiz).pk)

    assert len(set(results)) == 1, results
    assert Attempt.objects.filter(learner=learner, quiz=quiz).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_never_exceed_the_limit(learner):
    """With one attempt left, racing 'submit then start again' requests create at most one more."""
    quiz = quiz_with_items(2, attempt_limit=2)
    first = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=first.pk, learner=learner, answers=[])

    def start_and_submit(_index):
        attempt = services.attempt_start(learner=learner, quiz=quiz)
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
        return attempt.number

    results = _run_together(4, start_and_submit)

    assert Attempt.objects.filter(learner=learner, quiz=quiz).count() == 2
    assert sorted(Attempt.objects.values_list("number", flat=True)) == [1, 2]
    assert all(r == 2 or isinstance(r, services.AttemptNotAllowed) for r in results), results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_save_racing_submit_never_changes_a_graded_attempt(learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    right = [Answer(v, frozenset(k["correct"])) for v, k in key.items()]
    wrong = [Answer(v, frozenset({min(k["wrong"])})) for v, k in key.items()]

    def work(index):
        if index == 0:
            return services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=right)
        return services.attempt_save_answers(attempt_id=attempt.pk, learner=learner, answers=wrong)

    results = _run_together(2, work)

    stored = Attempt.objects.get(pk=attempt.pk)
    graded_right = Response.objects.filter(attempt=attempt, is_correct=True).count()
    assert stored.submitted_at is not None
    assert graded_right == stored.correct_count == 2  # the submit's own answers were graded
    assert isinstance(results[1], (Attempt, services.AttemptClosed)), results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_of_one_question_grade_it_once(learner):
    """Two tabs checking the same knowledge-check question: one is graded, the other gets 409."""
    quiz = quiz_with_items(2, kind="check")
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]

    results = _run_together(
        2,
        lambda i: services.attempt_answer_check(
            attempt_id=attempt.pk, learner=learner, answer=Answer(entry["version"], frozenset({entry["options"][i]}))
        ),
    )

    assert sorted(type(r).__name__ for r in results) == ["Attempt", "AttemptClosed"], results
    response = Response.objects.get(attempt=attempt, item_version_id=entry["version"])
    assert response.chosen.count() == 1 and response.is_correct is not None
