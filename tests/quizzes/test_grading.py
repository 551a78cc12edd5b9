"""The pure rules: drawing and shuffling, answer checks, scoring, start and review rules."""

import datetime as dt
from decimal import Decimal

from quizzes import grading
from quizzes.grading import Answer, KeyItem, PastAttempt, PoolItem

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _pool(objectives=3, per=4):
    return [
        PoolItem(version_id=o * 100 + i, objective_id=o, option_ids=(o * 1000 + i * 10 + 1, o * 1000 + i * 10 + 2))
        for o in range(1, objectives + 1)
        for i in range(per)
    ]


def test_same_seed_gives_same_layout():
    assert grading.layout_build(_pool(), seed=7, per_objective=None, total=None) == grading.layout_build(
        _pool(), seed=7, per_objective=None, total=None
    )


def test_different_seeds_shuffle_questions_differently():
    layouts = {
        tuple(e["version"] for e in grading.layout_build(_pool(), seed=s, per_objective=None, total=None))
        for s in range(5)
    }
    assert len(layouts) > 1


def test_layout_keeps_each_items_own_options():
    layout = grading.layout_build(_pool(), seed=3, per_objective=None, total=None)
    by_id = {p.version_id: set(p.option_ids) for p in _pool()}
    assert all(set(e["options"]) == by_id[e["version"]] for e in layout)


def test_draw_per_objective_takes_n_from_each_objective():
    layout = grading.layout_build(_pool(objectives=3, per=4), seed=1, per_objective=2, total=None)
    objectives = [e["version"] // 100 for e in layout]
    assert sorted(objectives) == [1, 1, 2, 2, 3, 3]


def test_total_spreads_questions_evenly_over_objectives():
    layout = grading.layout_build(_pool(objectives=3, per=4), seed=1, per_objective=None, total=7)
    counts = sorted([e["version"] // 100 for e in layout].count(o) for o in (1, 2, 3))
    assert len(layout) == 7
    assert counts == [2, 2, 3]


def test_total_larger_than_pool_takes_whole_pool():
    assert len(grading.layout_build(_pool(2, 2), seed=1, per_objective=None, total=20)) == 4


LAYOUT = [{"version": 1, "options": [11, 12, 13]}, {"version": 2, "options": [21, 22, 23, 24]}]


def test_valid_answers_have_no_problems():
    answers = [Answer(1, frozenset({11})), Answer(2, frozenset({21, 22}), "sure")]
    assert grading.answers_check(LAYOUT, answers, single_choice={1}) == []


def test_option_of_another_question_is_a_problem():
    problems = grading.answers_check(LAYOUT, [Answer(1, frozenset({21}))], single_choice={1})
    assert problems == ["Option 21 does not belong to question 1."]


def test_question_outside_the_attempt_is_a_problem():
    problems = grading.answers_check(LAYOUT, [Answer(9, frozenset({91}))], single_choice={1})
    assert problems == ["Question 9 is not part of this attempt."]


def test_two_options_on_a_single_answer_question_is_a_problem():
    problems = grading.answers_check(LAYOUT, [Answer(1, frozenset({11, 12}))], single_choice={1})
    assert problems == ["Question 1 takes one answer only."]


def test_unknown_confidence_is_a_problem():
    problems = grading.answers_check(LAYOUT, [Answer(1, frozenset({11}), "maybe")], single_choice={1})
    assert problems == ["Confidence 'maybe' is not one of sure, unsure."]


def test_single_answer_is_correct_only_with_the_key():
    key = KeyItem(1, "single", frozenset({11}))
    assert grading.item_is_correct(key, frozenset({11}))
    assert not grading.item_is_correct(key, frozenset({12}))
    assert not grading.item_is_correct(key, frozenset())


def test_multiple_response_is_all_or_nothing():
    key = KeyItem(2, "multiple", frozenset({21, 22}))
    assert grading.item_is_correct(key, frozenset({21, 22}))
    assert not grading.item_is_correct(key, frozenset({21}))
    assert not grading.item_is_correct(key, frozenset({21, 22, 23}))


def test_grade_scores_percent_and_unanswered_is_wrong():
    key = [KeyItem(1, "single", frozenset({11})), KeyItem(2, "multiple", frozenset({21})),
           KeyItem(3, "truefalse", frozenset({31})), KeyItem(4, "single", frozenset({41}))]
    result = grading.grade(key, {1: frozenset({11}), 2: frozenset({21}), 3: frozenset({31})}, pass_mark=75)
    assert (result.correct, result.total, result.score, result.passed) == (3, 4, Decimal("75.00"), True)


def test_grade_below_pass_mark_fails():
    key = [KeyItem(1, "single", frozenset({11})), KeyItem(2, "single", frozenset({21})),
           KeyItem(3, "single", frozenset({31}))]
    result = grading.grade(key, {1: frozenset({11}), 2: frozenset({21})}, pass_mark=75)
    assert (result.score, result.passed) == (Decimal("66.67"), False)


def test_limit_reached_blocks_a_new_attempt():
    past = [PastAttempt(n, NOW, False) for n in (1, 2, 3)]
    availability = grading.attempt_availability(kind="posttest", attempt_limit=3, wait_minutes=0, past=past, now=NOW)
    assert (availability.allowed, availability.reason) == (False, "You have used all 3 attempts.")


def test_waiting_time_runs_from_last_submission():
    past = [PastAttempt(1, NOW, False)]
    during = grading.attempt_availability(
        kind="posttest", attempt_limit=3, wait_minutes=30, past=past, now=NOW + dt.timedelta(minutes=29)
    )
    after = grading.attempt_availability(
        kind="posttest", attempt_limit=3, wait_minutes=30, past=past, now=NOW + dt.timedelta(minutes=30)
    )
    assert (during.allowed, during.available_at) == (False, NOW + dt.timedelta(minutes=30))
    assert after.allowed


def test_passed_posttest_needs_no_further_attempt():
    past = [PastAttempt(1, NOW, True)]
    availability = grading.attempt_availability(kind="posttest", attempt_limit=3, wait_minutes=0, past=past, now=NOW)
    assert not availability.allowed


def test_no_limit_allows_any_number_of_attempts():
    past = [PastAttempt(n, NOW, False) for n in range(1, 20)]
    assert grading.attempt_availability(kind="check", attempt_limit=None, wait_minutes=0, past=past, now=NOW).allowed


def test_review_rules():
    def allowed(rule, passed_any=False, used=1):
        return grading.review_allowed(rule=rule, passed_any=passed_any, attempts_used=used, attempt_limit=3)

    assert allowed("always")
    assert not allowed("never", passed_any=True)
    assert not allowed("after_pass", used=3)
    assert allowed("after_pass", passed_any=True)
    assert not allowed("after_last_attempt", used=2)
    assert allowed("after_last_attempt", used=3)
    assert allowed("after_last_attempt", passed_any=True)
