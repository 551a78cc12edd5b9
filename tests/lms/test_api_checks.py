"""API v1 for a lesson's knowledge check: found, started, one question checked at a time.

The check's answer carries the checked question's feedback (key, rationales)
and nothing of any other question; the leak tests here prove the unchecked
questions' keys stay out of every response. Every response is validated
against the committed docs/openapi.yaml by the schema-checked clients.
"""

from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse

from lms.models import Scope
from quizzes.models import Attempt, Option, Quiz, Response, ResponseChoice
from quizzes.services import attempt_start
from tests.factories import LessonFactory, UserFactory
from tests.lms.schema import SchemaCheckedAPIClient as APIClient
from tests.lms.test_api_attempts import _component_properties, assert_error, attempt_url, leaked_names
from tests.quizzes.factories import key_of, quiz_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def check_url(quiz: Quiz, name: str = "v1:check-detail") -> str:
    return reverse(name, args=[quiz.course.slug, quiz.lesson.slug])


def start_check(client, quiz: Quiz) -> Attempt:
    response = client.post(check_url(quiz, "v1:check-start"))
    assert response.status_code in (HTTPStatus.CREATED, HTTPStatus.OK), response.content
    return Attempt.objects.get(pk=response.json()["id"])


def check(client, attempt: Attempt, question: int, options) -> object:
    return client.post(
        attempt_url(attempt.pk, "v1:attempt-check"), {"question": question, "options": sorted(options)}, format="json"
    )


def state(attempt: Attempt) -> tuple:
    attempt.refresh_from_db()
    return (
        attempt.submitted_at,
        attempt.score,
        sorted(ResponseChoice.objects.filter(response__attempt=attempt).values_list("response_id", "option_id")),
        sorted(Response.objects.filter(attempt=attempt).values_list("pk", "is_correct", "answered_at")),
    )


def rationale_markers(version_id: int) -> list[str]:
    return list(Option.objects.filter(version_id=version_id).values_list("rationale_html", flat=True))


# --- found and started ----------------------------------------------------------------------------


def test_a_lessons_check_is_found_and_started_then_resumed(learner_api):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    body = learner_api.get(check_url(quiz)).json()
    assert (body["kind"], body["can_start"], body["open_attempt"], body["unavailable_code"]) == ("check", True, None, "")
    first = learner_api.post(check_url(quiz, "v1:check-start"))
    assert first.status_code == HTTPStatus.CREATED and first.json()["kind"] == "check"
    again = learner_api.post(check_url(quiz, "v1:check-start"))
    assert again.status_code == HTTPStatus.OK and again.json()["id"] == first.json()["id"]
    assert learner_api.get(check_url(quiz)).json()["open_attempt"] == first.json()["id"]
    assert Attempt.objects.filter(quiz=quiz).count() == 1


def test_a_lesson_without_a_check_is_404(learner_api):
    quiz = quiz_with_items(1, kind=Quiz.Kind.CHECK)
    other = LessonFactory(course=quiz.course)
    url = reverse("v1:check-detail", args=[quiz.course.slug, other.slug])
    assert_error(learner_api.get(url), HTTPStatus.NOT_FOUND, "not_found")
    url = reverse("v1:check-start", args=[quiz.course.slug, other.slug])
    assert_error(learner_api.post(url), HTTPStatus.NOT_FOUND, "not_found")
    assert not Attempt.objects.exists()


def test_an_empty_check_is_409_quiz_empty(learner_api):
    quiz = quiz_with_items(0, kind=Quiz.Kind.CHECK)
    assert_error(learner_api.post(check_url(quiz, "v1:check-start")), HTTPStatus.CONFLICT, "quiz_empty")


# --- checking one question --------------------------------------------------------------------------


def test_checking_returns_that_questions_verdict_key_and_rationales(learner_api):
    quiz = quiz_with_items(3, kind=Quiz.Kind.CHECK, types=["single", "multiple", "truefalse"])
    attempt = start_check(learner_api, quiz)
    key = key_of(attempt)
    entry = attempt.layout[1]
    version = entry["version"]
    response = check(learner_api, attempt, version, key[version]["correct"])
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["attempt"], body["finished"], body["score"]) == (attempt.pk, False, None)
    question = body["question"]
    assert (question["id"], question["position"], question["is_correct"]) == (version, 2, True)
    assert [o["id"] for o in question["options"]] == entry["options"]  # the attempt's order
    assert {o["id"] for o in question["options"] if o["is_correct"]} == key[version]["correct"]
    assert {o["id"] for o in question["options"] if o["chosen"]} == key[version]["correct"]
    assert sorted(o["rationale_html"] for o in question["options"]) == sorted(rationale_markers(version))


def test_a_wrong_answer_is_checked_as_wrong_and_final(learner_api):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = start_check(learner_api, quiz)
    version = attempt.layout[0]["version"]
    wrong = min(key_of(attempt)[version]["wrong"])
    body = check(learner_api, attempt, version, [wrong]).json()
    assert body["question"]["is_correct"] is False
    assert [o["id"] for o in body["question"]["options"] if o["chosen"]] == [wrong]
    assert Response.objects.get(attempt=attempt, item_version_id=version).is_correct is False


def test_unchecked_questions_keys_and_rationales_reach_no_response(learner_api):
    """The leak test: after checking question one, nothing of question two's key appears anywhere."""
    quiz = quiz_with_items(3, kind=Quiz.Kind.CHECK)
    responses = [learner_api.get(check_url(quiz)), learner_api.post(check_url(quiz, "v1:check-start"))]
    attempt = Attempt.objects.get()
    responses.append(learner_api.get(attempt_url(attempt.pk)))
    one, *others = attempt.layout
    key = key_of(attempt)
    checked = check(learner_api, attempt, one["version"], key[one["version"]]["correct"])
    responses += [
        learner_api.get(attempt_url(attempt.pk)),  # the attempt, with one question checked
        learner_api.post(check_url(quiz, "v1:check-start")),  # resumed
        learner_api.get(check_url(quiz)),
        check(learner_api, attempt, one["version"], key[one["version"]]["wrong"]),  # 409, already checked
    ]
    for response in responses:
        assert response.status_code < 500
        text = response.content.decode()
        assert leaked_names(response.json()) == set(), (response.wsgi_request.path, text)
        assert "RATIONALE-" not in text
    text = checked.content.decode()
    assert all(marker in text for marker in rationale_markers(one["version"]))
    for entry in others:
        assert not any(marker in text for marker in rationale_markers(entry["version"]))
        assert not {str(option) for option in entry["options"]} & {
            str(o["id"]) for o in checked.json()["question"]["options"]
        }


def test_checking_the_last_question_finishes_the_attempt_with_its_score(learner_api):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = start_check(learner_api, quiz)
    key = key_of(attempt)
    one, two = (entry["version"] for entry in attempt.layout)
    assert check(learner_api, attempt, one, key[one]["correct"]).json()["finished"] is False
    body = check(learner_api, attempt, two, [min(key[two]["wrong"])]).json()
    assert (body["finished"], body["score"], body["question"]["is_correct"]) == (True, "50.00", False)
    result = learner_api.get(attempt_url(attempt.pk, "v1:attempt-result"))
    assert result.status_code == HTTPStatus.OK and result.json()["score"] == "50.00"
    error = assert_error(check(learner_api, attempt, two, key[two]["correct"]), HTTPStatus.CONFLICT, "check_finished")
    assert "RATIONALE-" not in str(error)


def test_checking_a_checked_question_again_is_409_and_changes_nothing(learner_api):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = start_check(learner_api, quiz)
    version = attempt.layout[0]["version"]
    key = key_of(attempt)[version]
    check(learner_api, attempt, version, [min(key["wrong"])])
    before = state(attempt)
    response = check(learner_api, attempt, version, key["correct"])
    assert_error(response, HTTPStatus.CONFLICT, "question_already_checked")
    assert state(attempt) == before


def test_checking_without_an_option_is_400_answer_required_on_options(learner_api):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = start_check(learner_api, quiz)
    before = state(attempt)
    error = assert_error(check(learner_api, attempt, attempt.layout[0]["version"], []), 400, "answer_required")
    assert list(error["fields"]) == ["options"]
    assert state(attempt) == before


def test_checking_a_post_test_question_is_400_not_a_knowledge_check_without_its_key(learner, learner_api):
    post = quiz_with_items(2)
    attempt = attempt_start(learner=learner, quiz=post)
    entry = attempt.layout[0]
    before = state(attempt)
    response = check(learner_api, attempt, entry["version"], [entry["options"][0]])
    assert_error(response, HTTPStatus.BAD_REQUEST, "not_a_knowledge_check")
    assert "RATIONALE-" not in response.content.decode() and leaked_names(response.json()) == set()
    assert state(attempt) == before


def _bad_bodies(attempt: Attempt) -> dict:
    first, second = attempt.layout[0], attempt.layout[1]
    return {
        "not_an_object": ([], "non_field_errors"),
        "question_missing": ({"options": [first["options"][0]]}, "question"),
        "options_missing": ({"question": first["version"]}, "options"),
        "question_not_an_int": ({"question": "x", "options": [first["options"][0]]}, "question"),
        "question_too_large": ({"question": 2**40, "options": [first["options"][0]]}, "question"),
        "options_not_a_list": ({"question": first["version"], "options": 3}, "options"),
        "negative_option": ({"question": first["version"], "options": [-1]}, "options.0"),
        "foreign_question": ({"question": 999999, "options": [first["options"][0]]}, "question"),
        "option_of_another_question": ({"question": first["version"], "options": [second["options"][0]]}, "options"),
        "two_options_for_single_answer": ({"question": first["version"], "options": first["options"][:2]}, "options"),
    }


@pytest.mark.parametrize("case", list(_bad_bodies(Attempt(layout=[{"version": 1, "options": [1, 2]}] * 2))))
def test_bad_input_is_400_invalid_with_field_errors_and_writes_nothing(learner_api, case):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = start_check(learner_api, quiz)
    body, field = _bad_bodies(attempt)[case]
    before = state(attempt)
    response = learner_api.post(attempt_url(attempt.pk, "v1:attempt-check"), body, format="json")
    error = assert_error(response, HTTPStatus.BAD_REQUEST, "invalid")
    assert field in error["fields"], error
    assert state(attempt) == before


# --- isolation and access ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["valid", "malformed"])
def test_another_learners_attempt_is_404_whatever_the_body_and_changes_nothing(learner_api, body):
    quiz = quiz_with_items(2, kind=Quiz.Kind.CHECK)
    attempt = attempt_start(learner=UserFactory(), quiz=quiz)
    entry = attempt.layout[0]
    data = {"question": entry["version"], "options": [entry["options"][0]]} if body == "valid" else {"answers": 1}
    before = state(attempt)
    response = learner_api.post(attempt_url(attempt.pk, "v1:attempt-check"), data, format="json")
    assert_error(response, HTTPStatus.NOT_FOUND, "not_found")
    assert "RATIONALE-" not in response.content.decode()
    assert state(attempt) == before


def test_tokens_cannot_use_the_check_endpoints(token_client, learner):
    quiz = quiz_with_items(1, kind=Quiz.Kind.CHECK)
    attempt = attempt_start(learner=learner, quiz=quiz)
    client = token_client(*Scope.values)
    assert_error(client.get(check_url(quiz)), HTTPStatus.FORBIDDEN, "permission_denied")
    assert_error(client.post(check_url(quiz, "v1:check-start")), HTTPStatus.FORBIDDEN, "permission_denied")
    entry = attempt.layout[0]
    response = client.post(
        attempt_url(attempt.pk, "v1:attempt-check"), {"question": entry["version"], "options": [entry["options"][0]]},
        format="json",
    )
    assert_error(response, HTTPStatus.FORBIDDEN, "permission_denied")
    assert not Response.objects.filter(is_correct__isnull=False).exists()


def test_checking_needs_the_csrf_token(learner):
    quiz = quiz_with_items(1, kind=Quiz.Kind.CHECK)
    attempt = attempt_start(learner=learner, quiz=quiz)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    entry = attempt.layout[0]
    response = check(client, attempt, entry["version"], [entry["options"][0]])
    assert_error(response, HTTPStatus.FORBIDDEN, "permission_denied")
    assert not Response.objects.filter(is_correct__isnull=False).exists()


# --- query counts and schema ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5])
def test_check_endpoints_query_counts_are_constant(learner_api, django_assert_num_queries, n):
    quiz = quiz_with_items(n + 1, kind=Quiz.Kind.CHECK)
    with django_assert_num_queries(2):  # quiz, attempts
        learner_api.get(check_url(quiz))
    with django_assert_num_queries(11):  # quiz, then attempt_start (lock, attempts, pool (2), inserts, savepoints)
        started = learner_api.post(check_url(quiz, "v1:check-start"))
    attempt = Attempt.objects.get(pk=started.json()["id"])
    version = attempt.layout[0]["version"]
    right = key_of(attempt)[version]["correct"]
    # attempt; savepoint, lock, already checked?, responses with choices, delete and insert choices,
    # key, answer and verdict (one update), answered event, release; feedback: response, options, chosen
    with django_assert_num_queries(14):
        response = check(learner_api, attempt, version, right)
    assert response.json()["question"]["is_correct"] is True


def test_the_check_answer_is_the_one_learner_schema_besides_review_with_correctness_fields():
    assert {"is_correct", "rationale_html"} <= _component_properties("AttemptCheckOutput")
    assert not {"is_correct", "rationale_html"} & _component_properties("QuizDetailOutput")
