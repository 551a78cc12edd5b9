"""Every refusal of the quizzes services reaches an API client as its own stable code.

One case per code of quizzes.services.REFUSAL_CODES (a test fails if a code
has no case), each through the API with its HTTP status and validated
against the committed schema; and rewording a message leaves the code as it
was, because the API reads `exc.code`, never the text.
"""

import dataclasses
import datetime as dt
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from quizzes import grading, selectors, services
from quizzes.models import Attempt, Item, Quiz
from tests.lms.test_api_attempts import assert_error, attempt_url, quiz_url
from tests.quizzes.factories import key_of, quiz_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def _submit(learner, quiz, *, right: bool = False, confidence: str = "") -> Attempt:
    attempt = services.attempt_start(learner=learner, quiz=quiz)
    answers = [
        grading.Answer(v, frozenset(k["correct"] if right else {min(k["wrong"])}), confidence)
        for v, k in key_of(attempt).items()
    ]
    return services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)


def _start(api, quiz):
    return api.post(quiz_url(quiz, "v1:attempt-start"))


def _check(api, attempt, version, options):
    return api.post(attempt_url(attempt.pk, "v1:attempt-check"), {"question": version, "options": options}, format="json")


def attempt_limit_reached(learner, api, monkeypatch):
    quiz = quiz_with_items(1, attempt_limit=1)
    _submit(learner, quiz)
    return _start(api, quiz)


def wait_required(learner, api, monkeypatch):
    quiz = quiz_with_items(1, wait_minutes=30)
    _submit(learner, quiz)
    return _start(api, quiz)


def already_passed(learner, api, monkeypatch):
    quiz = quiz_with_items(1)
    _submit(learner, quiz, right=True)
    return _start(api, quiz)


def quiz_empty(learner, api, monkeypatch):
    return _start(api, quiz_with_items(0))


def recheck_not_open(learner, api, monkeypatch):
    quiz = quiz_with_items(1)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1)
    return api.post(reverse("v1:attempt-start", args=[quiz.course.slug, "recheck"]))


def nothing_to_recheck(learner, api, monkeypatch):
    quiz = quiz_with_items(1, confidence_enabled=True)
    Quiz.objects.create(course=quiz.course, kind=Quiz.Kind.RECHECK, title="Re-check", attempt_limit=1)
    passed = _submit(learner, quiz, right=True, confidence="sure")
    later = passed.submitted_at + dt.timedelta(days=30)
    monkeypatch.setattr(timezone, "now", lambda: later)
    return api.post(reverse("v1:attempt-start", args=[quiz.course.slug, "recheck"]))


def pretest_closed(learner, api, monkeypatch):
    post = quiz_with_items(1)
    Quiz.objects.create(course=post.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    Item.objects.filter(course=post.course).update(pools=["pretest", "posttest"])
    services.attempt_start(learner=learner, quiz=post)
    return api.post(reverse("v1:attempt-start", args=[post.course.slug, "pretest"]))


def attempt_submitted(learner, api, monkeypatch):
    attempt = _submit(learner, quiz_with_items(1))
    return api.put(attempt_url(attempt.pk, "v1:attempt-answers"), {"answers": []}, format="json")


def check_finished(learner, api, monkeypatch):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1, kind=Quiz.Kind.CHECK))
    entry = attempt.layout[0]
    services.attempt_answer_check(
        attempt_id=attempt.pk, learner=learner, answer=grading.Answer(entry["version"], frozenset(entry["options"][:1]))
    )
    return _check(api, attempt, entry["version"], entry["options"][1:2])


def question_already_checked(learner, api, monkeypatch):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2, kind=Quiz.Kind.CHECK))
    entry = attempt.layout[0]
    _check(api, attempt, entry["version"], entry["options"][:1])
    return _check(api, attempt, entry["version"], entry["options"][1:2])


def answer_required(learner, api, monkeypatch):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1, kind=Quiz.Kind.CHECK))
    return _check(api, attempt, attempt.layout[0]["version"], [])


def not_a_knowledge_check(learner, api, monkeypatch):
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    entry = attempt.layout[0]
    return _check(api, attempt, entry["version"], entry["options"][:1])


CASES = {
    attempt_limit_reached: HTTPStatus.CONFLICT,
    wait_required: HTTPStatus.CONFLICT,
    already_passed: HTTPStatus.CONFLICT,
    quiz_empty: HTTPStatus.CONFLICT,
    recheck_not_open: HTTPStatus.CONFLICT,
    nothing_to_recheck: HTTPStatus.CONFLICT,
    pretest_closed: HTTPStatus.CONFLICT,
    attempt_submitted: HTTPStatus.CONFLICT,
    check_finished: HTTPStatus.CONFLICT,
    question_already_checked: HTTPStatus.CONFLICT,
    answer_required: HTTPStatus.BAD_REQUEST,
    not_a_knowledge_check: HTTPStatus.BAD_REQUEST,
}


def test_every_refusal_code_has_an_api_case():
    assert {case.__name__ for case in CASES} == set(services.REFUSAL_CODES)


@pytest.mark.parametrize("case", list(CASES), ids=lambda case: case.__name__)
def test_each_refusal_reaches_the_api_as_its_code_and_status(learner, learner_api, monkeypatch, case):
    response = case(learner, learner_api, monkeypatch)
    error = assert_error(response, CASES[case], case.__name__)  # also checks the body against the schema
    assert ("available_at" in error) == (case in (wait_required,))


def test_the_refusals_documented_per_operation_are_the_codes():
    from tests.lms.schema import spec

    documented = " ".join(
        response.get("description", "")
        for path in spec()["paths"].values()
        for operation in path.values()
        for response in operation.get("responses", {}).values()
    )
    assert all(f"`{code}`" in documented for code in services.REFUSAL_CODES)


@pytest.mark.parametrize("call", ["retrieve", "save", "submit"])
def test_an_open_pretest_attempt_is_closed_to_the_api_once_the_posttest_started(learner, learner_api, call):
    post = quiz_with_items(1)
    pre = Quiz.objects.create(course=post.course, kind=Quiz.Kind.PRETEST, title="Pre", attempt_limit=1)
    Item.objects.filter(course=post.course).update(pools=["pretest", "posttest"])
    attempt = services.attempt_start(learner=learner, quiz=pre)
    services.attempt_start(learner=learner, quiz=post)
    if call == "retrieve":
        response = learner_api.get(attempt_url(attempt.pk))
    elif call == "save":
        response = learner_api.put(attempt_url(attempt.pk, "v1:attempt-answers"), {"answers": []}, format="json")
    else:
        response = learner_api.post(attempt_url(attempt.pk, "v1:attempt-submit"), {}, format="json")
    assert_error(response, HTTPStatus.CONFLICT, "pretest_closed")  # also checks the body against the schema
    assert Attempt.objects.get(pk=attempt.pk).submitted_at is None


# --- rewording a message changes no code ----------------------------------------------------------


def test_rewording_the_pretest_message_keeps_the_code(learner, learner_api, monkeypatch):
    monkeypatch.setattr(selectors, "PRETEST_CLOSED_MESSAGE", "Entirely different words.")
    error = assert_error(pretest_closed(learner, learner_api, monkeypatch), HTTPStatus.CONFLICT, "pretest_closed")
    assert error["message"] == "Entirely different words."


def test_rewording_the_start_rules_messages_keeps_their_codes(learner, learner_api, monkeypatch):
    """The rules' sentences replaced by one neutral sentence: each refusal keeps its own code."""
    original = grading.attempt_availability

    def reworded(**kwargs):
        availability = original(**kwargs)
        return availability if availability.allowed else dataclasses.replace(availability, reason="No.")

    monkeypatch.setattr(grading, "attempt_availability", reworded)
    for case in (attempt_limit_reached, wait_required, already_passed):
        error = assert_error(case(learner, learner_api, monkeypatch), HTTPStatus.CONFLICT, case.__name__)
        assert error["message"] == "No."


def test_rewording_a_closed_message_keeps_the_code(learner, learner_api, monkeypatch):
    """A refusal raised with any words at all is still answered by its code."""

    def closed(**kwargs):
        raise services.AttemptClosed("Words nobody matched on.", code="attempt_submitted")

    monkeypatch.setattr(services, "attempt_save_answers", closed)
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1))
    response = learner_api.put(attempt_url(attempt.pk, "v1:attempt-answers"), {"answers": []}, format="json")
    error = assert_error(response, HTTPStatus.CONFLICT, "attempt_submitted")
    assert error["message"] == "Words nobody matched on."
