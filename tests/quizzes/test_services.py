"""Attempt rules: start and resume, limit, waiting time, saving, exactly-once grading, checks."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from curriculum.models import LearnerEvent
from quizzes import services
from quizzes.grading import Answer
from quizzes.models import Attempt, ItemVersion, Quiz, Response, ResponseChoice
from tests.quizzes.factories import key_of, quiz_with_items


def _answers(attempt, *, right: int):
    """Answers getting the first `right` questions right and the rest wrong."""
    key = key_of(attempt)
    answers = []
    for index, entry in enumerate(attempt.layout):
        options = key[entry["version"]]["correct"] if index < right else {min(key[entry["version"]]["wrong"])}
        answers.append(Answer(entry["version"], frozenset(options)))
    return answers


def _snapshot(attempt):
    attempt.refresh_from_db()
    return (
        attempt.submitted_at, attempt.saved_at, attempt.score,
        sorted(ResponseChoice.objects.filter(response__attempt=attempt).values_list("response_id", "option_id")),
        sorted(Response.objects.filter(attempt=attempt).values_list("pk", "confidence", "is_correct")),
    )


@pytest.mark.django_db
def test_start_stores_shuffled_layout_and_empty_responses(learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    assert attempt.number == 1
    assert attempt.question_count == 4
    assert len(attempt.layout) == 4
    assert list(attempt.responses.order_by("position").values_list("item_version_id", flat=True)) == [
        e["version"] for e in attempt.layout
    ]
    assert not ResponseChoice.objects.exists()


@pytest.mark.django_db
def test_start_resumes_the_open_attempt(learner):
    quiz = quiz_with_items(2)
    first = services.attempt_start(learner=learner, quiz=quiz)
    again = services.attempt_start(learner=learner, quiz=quiz)
    assert again.pk == first.pk
    assert Attempt.objects.count() == 1


@pytest.mark.django_db
def test_post_test_draws_question_count_spread_over_objectives(learner):
    quiz = quiz_with_items(6, question_count=4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    assert attempt.question_count == 4


@pytest.mark.django_db
def test_attempt_limit_blocks_a_fourth_attempt(learner):
    quiz = quiz_with_items(2, attempt_limit=3)
    for _ in range(3):
        attempt = services.attempt_start(learner=learner, quiz=quiz)
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=0))
    with pytest.raises(services.AttemptNotAllowed, match="used all 3 attempts"):
        services.attempt_start(learner=learner, quiz=quiz)
    assert Attempt.objects.count() == 3


@pytest.mark.django_db
def test_waiting_time_blocks_until_it_has_passed(learner, monkeypatch):
    quiz = quiz_with_items(2, wait_minutes=60)
    start = timezone.now()
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=0))
    submitted = Attempt.objects.get(pk=attempt.pk).submitted_at
    monkeypatch.setattr(timezone, "now", lambda: submitted + dt.timedelta(minutes=59))
    with pytest.raises(services.AttemptNotAllowed) as exc:
        services.attempt_start(learner=learner, quiz=quiz)
    assert exc.value.available_at == submitted + dt.timedelta(minutes=60)
    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=61))
    assert services.attempt_start(learner=learner, quiz=quiz).number == 2


@pytest.mark.django_db
def test_passed_post_test_cannot_be_retaken(learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=2))
    with pytest.raises(services.AttemptNotAllowed, match="already passed"):
        services.attempt_start(learner=learner, quiz=quiz)


@pytest.mark.django_db
def test_quiz_without_questions_cannot_start(learner):
    quiz = quiz_with_items(0)
    with pytest.raises(services.AttemptNotAllowed, match="no questions"):
        services.attempt_start(learner=learner, quiz=quiz)


@pytest.mark.django_db
def test_save_stores_answers_and_confidence_without_grading(learner):
    quiz = quiz_with_items(2, confidence_enabled=True)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    first = attempt.layout[0]
    services.attempt_save_answers(
        attempt_id=attempt.pk, learner=learner,
        answers=[Answer(first["version"], frozenset({first["options"][0]}), "sure")],
    )
    response = Response.objects.get(attempt=attempt, item_version_id=first["version"])
    assert list(response.chosen.values_list("pk", flat=True)) == [first["options"][0]]
    assert (response.confidence, response.is_correct) == ("sure", None)
    assert Attempt.objects.get(pk=attempt.pk).submitted_at is None


@pytest.mark.django_db
def test_saving_again_replaces_the_earlier_answer(learner):
    quiz = quiz_with_items(1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    for option in entry["options"][:2]:
        services.attempt_save_answers(
            attempt_id=attempt.pk, learner=learner, answers=[Answer(entry["version"], frozenset({option}))]
        )
    assert list(ResponseChoice.objects.values_list("option_id", flat=True)) == [entry["options"][1]]


@pytest.mark.django_db
def test_option_of_another_question_is_rejected_and_nothing_changes(learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    one, two = attempt.layout
    services.attempt_save_answers(
        attempt_id=attempt.pk, learner=learner, answers=[Answer(one["version"], frozenset({one["options"][0]}))]
    )
    before = _snapshot(attempt)
    with pytest.raises(ValidationError):
        services.attempt_save_answers(
            attempt_id=attempt.pk, learner=learner,
            answers=[Answer(one["version"], frozenset({one["options"][1]})),
                     Answer(two["version"], frozenset({one["options"][0]}))],
        )
    assert _snapshot(attempt) == before


@pytest.mark.django_db
def test_question_from_another_quiz_is_rejected_and_nothing_changes(learner):
    quiz, other = quiz_with_items(1), quiz_with_items(1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    foreign = ItemVersion.objects.get(item__course=other.course)
    before = _snapshot(attempt)
    with pytest.raises(ValidationError):
        services.attempt_submit(
            attempt_id=attempt.pk, learner=learner,
            answers=[Answer(foreign.pk, frozenset({foreign.options.first().pk}))],
        )
    assert _snapshot(attempt) == before


@pytest.mark.django_db
def test_saving_a_submitted_attempt_is_refused_and_nothing_changes(learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=1))
    before = _snapshot(attempt)
    with pytest.raises(services.AttemptClosed):
        services.attempt_save_answers(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=2))
    assert _snapshot(attempt) == before


@pytest.mark.django_db
def test_another_learners_attempt_is_not_found(learner, other_learner):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    with pytest.raises(Attempt.DoesNotExist):
        services.attempt_submit(attempt_id=attempt.pk, learner=other_learner, answers=[])


@pytest.mark.django_db
@pytest.mark.parametrize("attempt_id", [2**63, -(2**63) - 1, 0])
def test_an_id_no_attempt_can_have_is_not_found_and_nothing_changes(learner, attempt_id):
    """The lock's written-out query is not asked for ids beyond 64 bits (SQLite cannot bind them)."""
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    before = _snapshot(attempt)
    for write in (services.attempt_submit, services.attempt_save_answers):
        with pytest.raises(Attempt.DoesNotExist):
            write(attempt_id=attempt_id, learner=learner, answers=[])
    assert _snapshot(attempt) == before


@pytest.mark.django_db
def test_submit_grades_and_records_a_passed_event(learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=3))
    assert (graded.score, graded.passed, graded.correct_count) == (Decimal("75.00"), True, 3)
    assert sorted(Response.objects.filter(attempt=attempt).values_list("is_correct", flat=True)) == [
        False, True, True, True
    ]
    event = LearnerEvent.objects.exclude(verb="answered").get()
    assert (event.verb, event.object_ref, event.learner) == ("passed", f"quizzes.attempt:{attempt.pk}", learner)


@pytest.mark.django_db
def test_the_outcome_event_comes_before_the_answered_events_with_the_result_in_its_data(learner):
    """One insert writes both kinds; the outbox delivers in id order, so the outcome goes first."""
    quiz = quiz_with_items(3)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=3))
    events = list(LearnerEvent.objects.order_by("pk").values_list("verb", "data", "occurred_at", "learner_id"))
    assert [verb for verb, *_ in events] == ["passed", "answered", "answered", "answered"], events
    assert events[0][1] == {"score": "100.00", "number": 1, "quiz": quiz.pk}
    assert {at for _, _, at, _ in events} == {graded.submitted_at}, events
    assert {who for *_, who in events} == {learner.pk}


@pytest.mark.django_db
def test_grading_reads_each_answer_key_once_per_process(learner, other_learner, django_assert_num_queries):
    """Keys are cached by item version (immutable); a later attempt on the same versions reads none,
    and grades exactly as the first did."""
    quiz = quiz_with_items(4, attempt_limit=None, wait_minutes=0)
    first = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=first.pk, learner=learner, answers=_answers(first, right=2))
    second = services.attempt_start(learner=other_learner, quiz=quiz)
    answers = _answers(second, right=3)
    with django_assert_num_queries(9):  # as test_submit_writes_every_verdict_... less the key
        graded = services.attempt_submit(attempt_id=second.pk, learner=other_learner, answers=answers)
    assert (graded.correct_count, graded.score) == (3, Decimal("75.00"))
    assert Response.objects.filter(attempt=second, is_correct=True).count() == 3


@pytest.mark.django_db
def test_failed_post_test_records_a_failed_event(learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=2))
    assert graded.passed is False
    assert LearnerEvent.objects.exclude(verb="answered").get().verb == "failed"


@pytest.mark.django_db
def test_pre_test_records_no_credit_event(learner):
    quiz = quiz_with_items(2, kind=Quiz.Kind.PRETEST)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=2))
    assert not LearnerEvent.objects.exclude(verb="answered").exists()


@pytest.mark.django_db
def test_second_submit_returns_first_result(learner):
    quiz = quiz_with_items(4)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    first = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=1))
    before = _snapshot(attempt)
    second = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=4))
    assert (second.score, second.passed, second.submitted_at) == (first.score, first.passed, first.submitted_at)
    assert _snapshot(attempt) == before
    assert LearnerEvent.objects.exclude(verb="answered").count() == 1


@pytest.mark.django_db
def test_multiple_response_partial_answer_scores_zero(learner):
    quiz = quiz_with_items(1, types=[ItemVersion.Type.MULTIPLE])
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    one_correct = min(key_of(attempt)[entry["version"]]["correct"])
    graded = services.attempt_submit(
        attempt_id=attempt.pk, learner=learner, answers=[Answer(entry["version"], frozenset({one_correct}))]
    )
    assert (graded.score, graded.passed) == (Decimal("0.00"), False)


@pytest.mark.django_db
def test_confidence_is_ignored_when_the_quiz_does_not_ask(learner):
    quiz = quiz_with_items(1, confidence_enabled=False)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    services.attempt_save_answers(
        attempt_id=attempt.pk, learner=learner, answers=[Answer(entry["version"], frozenset(), "sure")]
    )
    assert Response.objects.get().confidence == ""


@pytest.mark.django_db
def test_second_open_attempt_is_refused_by_the_database(learner):
    quiz = quiz_with_items(1)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    with pytest.raises(IntegrityError):
        Attempt.objects.create(
            learner=learner, quiz=quiz, number=2, seed=1, layout=attempt.layout,
            started_at=timezone.now(), question_count=1,
        )


@pytest.mark.django_db
def test_knowledge_check_grades_each_question_at_once(learner):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    one, two = attempt.layout
    key = key_of(attempt)
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=Answer(one["version"], frozenset(key[one["version"]]["correct"]))
    )
    assert Response.objects.get(attempt=attempt, item_version_id=one["version"]).is_correct is True
    assert Attempt.objects.get(pk=attempt.pk).submitted_at is None
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner,
        answer=Answer(two["version"], frozenset({min(key[two["version"]]["wrong"])})),
    )
    attempt.refresh_from_db()
    assert (attempt.score, attempt.passed is not None, attempt.submitted_at is not None) == (
        Decimal("50.00"), True, True
    )
    assert not LearnerEvent.objects.exclude(verb="answered").exists()


@pytest.mark.django_db
def test_checked_question_cannot_be_answered_again(learner):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=Answer(entry["version"], frozenset({entry["options"][0]}))
    )
    before = _snapshot(attempt)
    with pytest.raises(services.AttemptClosed):
        services.attempt_answer_check(
            attempt_id=attempt.pk, learner=learner, answer=Answer(entry["version"], frozenset({entry["options"][1]}))
        )
    assert _snapshot(attempt) == before


@pytest.mark.django_db
def test_post_test_gives_no_per_question_feedback(learner):
    quiz = quiz_with_items(2)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    entry = attempt.layout[0]
    with pytest.raises(ValidationError):
        services.attempt_answer_check(
            attempt_id=attempt.pk, learner=learner, answer=Answer(entry["version"], frozenset({entry["options"][0]}))
        )
    assert Response.objects.filter(is_correct__isnull=False).count() == 0


def _recheck_setup(learner, *, sure_wrong: int = 1, unsure_right: int = 1, sure_right: int = 2):
    """A passed post-test (4 items) and its course's re-check quiz."""
    quiz = quiz_with_items(sure_wrong + unsure_right + sure_right, pass_mark=50, confidence_enabled=True)
    recheck = Quiz.objects.create(
        course=quiz.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1, pass_mark=0
    )
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    answers, expected = [], set()
    for index, entry in enumerate(attempt.layout):
        v = entry["version"]
        if index < sure_wrong:
            answers.append(Answer(v, frozenset({min(key[v]["wrong"])}), "sure"))
            expected.add(v)
        elif index < sure_wrong + unsure_right:
            answers.append(Answer(v, frozenset(key[v]["correct"]), "unsure"))
            expected.add(v)
        else:
            answers.append(Answer(v, frozenset(key[v]["correct"]), "sure"))
    graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
    assert graded.passed
    return recheck, graded, expected


@pytest.mark.django_db
def test_recheck_is_closed_before_passing_the_post_test(learner):
    quiz = quiz_with_items(1)
    recheck = Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1)
    with pytest.raises(services.AttemptNotAllowed, match="after you pass"):
        services.attempt_start(learner=learner, quiz=recheck)


@pytest.mark.django_db
def test_recheck_opens_recheck_days_after_passing(learner, monkeypatch):
    recheck, passed, _ = _recheck_setup(learner)
    monkeypatch.setattr(timezone, "now", lambda: passed.submitted_at + dt.timedelta(days=13, hours=23))
    with pytest.raises(services.AttemptNotAllowed) as exc:
        services.attempt_start(learner=learner, quiz=recheck)
    assert exc.value.available_at == passed.submitted_at + dt.timedelta(days=14)


@pytest.mark.django_db
def test_recheck_asks_the_wrong_and_unsure_items_again(learner, monkeypatch):
    recheck, passed, expected = _recheck_setup(learner)
    monkeypatch.setattr(timezone, "now", lambda: passed.submitted_at + dt.timedelta(days=14))
    attempt = services.attempt_start(learner=learner, quiz=recheck)
    assert {entry["version"] for entry in attempt.layout} == expected
    graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    assert graded.score == Decimal("0.00")
    assert LearnerEvent.objects.exclude(verb="answered").count() == 1  # only the post-test's "passed"


@pytest.mark.django_db
def test_recheck_has_nothing_to_ask_after_a_sure_perfect_score(learner, monkeypatch):
    recheck, passed, _ = _recheck_setup(learner, sure_wrong=0, unsure_right=0, sure_right=2)
    monkeypatch.setattr(timezone, "now", lambda: passed.submitted_at + dt.timedelta(days=15))
    with pytest.raises(services.AttemptNotAllowed, match="Nothing to re-check"):
        services.attempt_start(learner=learner, quiz=recheck)


# --- refusal codes: stable, machine-readable, one per rule ------------------------------


@pytest.mark.django_db
def test_start_refusals_carry_the_code_of_their_rule(learner):
    limited = quiz_with_items(1, attempt_limit=1)
    services.attempt_submit(attempt_id=services.attempt_start(learner=learner, quiz=limited).pk, learner=learner)
    passed = quiz_with_items(1)
    attempt = services.attempt_start(learner=learner, quiz=passed)
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=1))
    waiting = quiz_with_items(1, wait_minutes=60)
    services.attempt_submit(attempt_id=services.attempt_start(learner=learner, quiz=waiting).pk, learner=learner)
    codes = {}
    for name, quiz in {"limit": limited, "passed": passed, "wait": waiting, "empty": quiz_with_items(0)}.items():
        with pytest.raises(services.AttemptNotAllowed) as exc:
            services.attempt_start(learner=learner, quiz=quiz)
        codes[name] = (exc.value.code, exc.value.available_at is not None)
    assert codes == {
        "limit": ("attempt_limit_reached", False),
        "passed": ("already_passed", False),
        "wait": ("wait_required", True),
        "empty": ("quiz_empty", False),
    }


@pytest.mark.django_db
def test_recheck_refusals_carry_their_codes(learner, monkeypatch):
    recheck, passed, _ = _recheck_setup(learner)
    other = quiz_with_items(1)
    early = Quiz.objects.create(course=other.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1)
    with pytest.raises(services.AttemptNotAllowed) as before_pass:
        services.attempt_start(learner=learner, quiz=early)
    with pytest.raises(services.AttemptNotAllowed) as too_soon:
        services.attempt_start(learner=learner, quiz=recheck)
    assert (before_pass.value.code, too_soon.value.code) == ("recheck_not_open", "recheck_not_open")
    assert too_soon.value.available_at == passed.submitted_at + dt.timedelta(days=14)
    perfect, graded, _ = _recheck_setup(learner, sure_wrong=0, unsure_right=0, sure_right=2)
    monkeypatch.setattr(timezone, "now", lambda: graded.submitted_at + dt.timedelta(days=15))
    with pytest.raises(services.AttemptNotAllowed) as nothing:
        services.attempt_start(learner=learner, quiz=perfect)
    assert nothing.value.code == "nothing_to_recheck"


@pytest.mark.django_db
def test_closed_and_invalid_refusals_carry_their_codes(learner):
    post = quiz_with_items(1)
    attempt = services.attempt_start(learner=learner, quiz=post)
    with pytest.raises(ValidationError) as not_check:
        services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=Answer(attempt.layout[0]["version"], frozenset()))
    services.attempt_submit(attempt_id=attempt.pk, learner=learner)
    with pytest.raises(services.AttemptClosed) as submitted:
        services.attempt_save_answers(attempt_id=attempt.pk, learner=learner, answers=[])
    check = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = services.attempt_start(learner=learner, quiz=check)
    one, two = attempt.layout
    with pytest.raises(ValidationError) as required:
        services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=Answer(one["version"], frozenset()))
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=Answer(one["version"], frozenset({one["options"][0]}))
    )
    with pytest.raises(services.AttemptClosed) as again:
        services.attempt_answer_check(
            attempt_id=attempt.pk, learner=learner, answer=Answer(one["version"], frozenset({one["options"][1]}))
        )
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=Answer(two["version"], frozenset({two["options"][0]}))
    )
    with pytest.raises(services.AttemptClosed) as finished:
        services.attempt_answer_check(
            attempt_id=attempt.pk, learner=learner, answer=Answer(two["version"], frozenset({two["options"][1]}))
        )
    assert [not_check.value.code, required.value.code] == ["not_a_knowledge_check", "answer_required"]
    assert [submitted.value.code, again.value.code, finished.value.code] == [
        "attempt_submitted", "question_already_checked", "check_finished"
    ]


def test_a_refusal_code_must_be_a_documented_one():
    with pytest.raises(AssertionError):
        services.AttemptNotAllowed("Some words.", code="made_up")


# --- the pre-test closes once the post-test has started -----------------------------------


def _pre_and_post(**post_fields):
    post = quiz_with_items(2, **post_fields)
    pre = Quiz.objects.create(course=post.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    for version in ItemVersion.objects.filter(item__course=post.course):
        version.item.pools = ["pretest", "posttest"]
        version.item.save(update_fields=["pools"])
    return pre, post


@pytest.mark.django_db
def test_pretest_is_open_until_the_posttest_starts_then_closed_with_pretest_closed(learner):
    pre, post = _pre_and_post()
    assert services.attempt_start(learner=learner, quiz=pre).number == 1  # no post-test attempt yet: open
    services.attempt_start(learner=learner, quiz=post)  # an open post-test attempt is enough
    with pytest.raises(services.AttemptNotAllowed) as exc:
        services.attempt_start(learner=learner, quiz=pre)  # not even the open pre-test attempt resumes
    assert exc.value.code == "pretest_closed"
    assert Attempt.objects.filter(quiz=pre).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["save", "submit"])
def test_an_open_pretest_attempt_can_neither_be_saved_nor_submitted_once_the_posttest_started(learner, action):
    """Else a learner could finish the pre-test after the course, and its score would no longer say
    what they knew before it."""
    pre, post = _pre_and_post()
    attempt = services.attempt_start(learner=learner, quiz=pre)
    first = attempt.layout[0]
    services.attempt_save_answers(  # still open: saved
        attempt_id=attempt.pk, learner=learner, answers=[Answer(first["version"], frozenset(first["options"][:1]))]
    )
    saved = Attempt.objects.get(pk=attempt.pk)
    chosen = set(ResponseChoice.objects.filter(response__attempt=attempt).values_list("response_id", "option_id"))
    services.attempt_start(learner=learner, quiz=post)
    change = services.attempt_save_answers if action == "save" else services.attempt_submit
    answers = [Answer(entry["version"], frozenset(entry["options"][-1:])) for entry in attempt.layout]
    with pytest.raises(services.AttemptClosed) as exc:
        change(attempt_id=attempt.pk, learner=learner, answers=answers)
    assert exc.value.code == "pretest_closed"
    after = Attempt.objects.get(pk=attempt.pk)
    assert after.submitted_at is None and after.saved_at == saved.saved_at and after.score == saved.score
    assert set(ResponseChoice.objects.filter(response__attempt=attempt).values_list("response_id", "option_id")) == chosen


@pytest.mark.django_db
def test_another_learners_posttest_does_not_close_my_pretest(learner, other_learner):
    pre, post = _pre_and_post()
    services.attempt_start(learner=other_learner, quiz=post)
    assert services.attempt_start(learner=learner, quiz=pre).quiz_id == pre.pk


# --- submission writes: grouped updates, same values (issue #8) ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 20])
def test_submit_writes_every_verdict_confidence_and_answer_time_in_constant_queries(
    learner, django_assert_num_queries, n
):
    """Mixed confidences, a cleared answer, right and wrong: each row gets exactly its own values."""
    quiz = quiz_with_items(n, confidence_enabled=True, pass_mark=0)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    answers, expected = [], {}
    for index, entry in enumerate(attempt.layout):
        v = entry["version"]
        confidence = ("sure", "unsure", "")[index % 3]
        options = frozenset() if index % 4 == 3 else frozenset(key[v]["correct"] if index % 2 else {min(key[v]["wrong"])})
        answers.append(Answer(v, options, confidence))
        expected[v] = (confidence, bool(options), bool(options) and index % 2 == 1)
    # savepoint, lock, responses with their choices, delete choices, insert choices; the key (this
    # process has not graded these versions yet), answers and verdicts (one update), the attempt;
    # the outcome and per-question answered events (one insert, whatever the number); release
    with django_assert_num_queries(10):
        graded = services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
    rows = Response.objects.filter(attempt=attempt).values_list("item_version_id", "confidence", "answered_at", "is_correct")
    assert {v: (c, at is not None, right) for v, c, at, right in rows} == expected
    assert {at for _, _, at, _ in rows if at is not None} <= {graded.submitted_at}
    assert graded.correct_count == sum(1 for _, _, right in expected.values() if right)


@pytest.mark.django_db
def test_saving_again_rewrites_only_the_questions_sent(learner):
    quiz = quiz_with_items(3, confidence_enabled=True)
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    one, two, three = (entry["version"] for entry in attempt.layout)
    options = {entry["version"]: entry["options"] for entry in attempt.layout}
    services.attempt_save_answers(attempt_id=attempt.pk, learner=learner, answers=[
        Answer(one, frozenset({options[one][0]}), "sure"), Answer(two, frozenset({options[two][0]}), "unsure"),
    ])
    services.attempt_save_answers(attempt_id=attempt.pk, learner=learner, answers=[Answer(two, frozenset(), "sure")])
    rows = {
        v: (c, at is not None, right)
        for v, c, at, right in Response.objects.filter(attempt=attempt).values_list(
            "item_version_id", "confidence", "answered_at", "is_correct"
        )
    }
    assert rows == {one: ("sure", True, None), two: ("sure", False, None), three: ("", False, None)}
