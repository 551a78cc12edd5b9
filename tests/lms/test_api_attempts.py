"""API v1 for quizzes: start/resume, questions without the key, save, submit once, result, review.

Every response is validated against the committed docs/openapi.yaml (the
clients from tests/lms/conftest.py do it). The leak tests scan every learner
response of an open attempt, and the schema, for correctness data.
"""

import datetime as dt
import json
import re
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from lms.models import Scope
from quizzes.models import Attempt, ItemVersion, Quiz, Response, ResponseChoice
from quizzes.services import attempt_start, attempt_submit
from tests.factories import UserFactory
from tests.lms.schema import SchemaCheckedAPIClient as APIClient
from tests.lms.schema import assert_matches_schema, spec
from tests.lms.test_golden import assert_golden
from tests.quizzes.factories import key_of, quiz_with_items

pytestmark = pytest.mark.django_db

# Field names that would mean the answer key (or its explanation) reached a learner,
# and the marker every factory rationale carries (tests/quizzes/factories.py).
LEAK = re.compile(r"correct|rationale|^key$|answer_key|solution", re.IGNORECASE)
RATIONALE_MARKER = "RATIONALE-"


def leaked_names(body) -> set[str]:
    """Every JSON field name in `body` that names correctness data."""
    found: set[str] = set()
    if isinstance(body, dict):
        found |= {name for name in body if LEAK.search(name)}
        for value in body.values():
            found |= leaked_names(value)
    elif isinstance(body, list):
        for item in body:
            found |= leaked_names(item)
    return found


@pytest.fixture(autouse=True)
def _fresh_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert_matches_schema(response)
    return body["error"]


def quiz_url(quiz: Quiz, name: str = "v1:quiz-detail") -> str:
    return reverse(name, args=[quiz.course.slug, quiz.kind])


def attempt_url(attempt_id: int, name: str = "v1:attempt-detail") -> str:
    return reverse(name, args=[attempt_id])


def start(client, quiz: Quiz) -> dict:
    response = client.post(quiz_url(quiz, "v1:attempt-start"))
    assert response.status_code in (HTTPStatus.CREATED, HTTPStatus.OK), response.content
    return response.json()


def all_right(attempt: Attempt) -> list[dict]:
    return [{"question": v, "options": sorted(k["correct"])} for v, k in key_of(attempt).items()]


def all_wrong(attempt: Attempt) -> list[dict]:
    return [{"question": v, "options": [min(k["wrong"])]} for v, k in key_of(attempt).items()]


# --- quiz info and start ------------------------------------------------------------------


def test_quiz_detail_shows_rules_attempts_and_availability(learner, learner_api):
    quiz = quiz_with_items(2, attempt_limit=3, pass_mark=75)
    body = learner_api.get(quiz_url(quiz)).json()
    assert body["attempts_used"] == 0 and body["attempt_limit"] == 3 and body["pass_mark"] == 75
    assert body["can_start"] is True and body["open_attempt"] is None and body["best_score"] is None
    attempt = attempt_start(learner=learner, quiz=quiz)
    attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    body = learner_api.get(quiz_url(quiz)).json()
    assert (body["attempts_used"], body["best_score"], body["passed"]) == (1, "0.00", False)


def test_start_creates_then_resumes_the_same_attempt(learner_api):
    quiz = quiz_with_items(3)
    first = learner_api.post(quiz_url(quiz, "v1:attempt-start"))
    assert first.status_code == HTTPStatus.CREATED
    again = learner_api.post(quiz_url(quiz, "v1:attempt-start"))
    assert again.status_code == HTTPStatus.OK
    assert again.json()["id"] == first.json()["id"]
    assert Attempt.objects.count() == 1
    assert learner_api.get(quiz_url(quiz)).json()["open_attempt"] == first.json()["id"]


def test_start_after_the_last_attempt_is_409_attempt_limit_reached(learner, learner_api):
    quiz = quiz_with_items(2, attempt_limit=1)
    attempt_submit(attempt_id=attempt_start(learner=learner, quiz=quiz).pk, learner=learner, answers=[])
    assert_error(learner_api.post(quiz_url(quiz, "v1:attempt-start")), HTTPStatus.CONFLICT, "attempt_limit_reached")
    assert Attempt.objects.count() == 1
    assert learner_api.get(quiz_url(quiz)).json()["can_start"] is False


def test_start_before_the_waiting_time_is_409_wait_required_with_available_at(learner, learner_api):
    quiz = quiz_with_items(2, wait_minutes=60)
    attempt_submit(attempt_id=attempt_start(learner=learner, quiz=quiz).pk, learner=learner, answers=[])
    error = assert_error(learner_api.post(quiz_url(quiz, "v1:attempt-start")), HTTPStatus.CONFLICT, "wait_required")
    available_at = dt.datetime.fromisoformat(error["available_at"])
    assert available_at > timezone.now() + dt.timedelta(minutes=59)


def test_start_after_passing_the_posttest_is_409_already_passed(learner, learner_api):
    quiz = quiz_with_items(2)
    attempt = attempt_start(learner=learner, quiz=quiz)
    from quizzes.grading import Answer

    answers = [Answer(v, frozenset(k["correct"])) for v, k in key_of(attempt).items()]
    attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
    assert_error(learner_api.post(quiz_url(quiz, "v1:attempt-start")), HTTPStatus.CONFLICT, "already_passed")


@pytest.mark.parametrize("kind", ["check", "nonsense"])
def test_unknown_quiz_kind_or_course_is_404(learner_api, kind):
    quiz = quiz_with_items(1)
    assert_error(learner_api.get(reverse("v1:quiz-detail", args=[quiz.course.slug, kind])), 404, "not_found")
    assert_error(learner_api.get(reverse("v1:quiz-detail", args=["no-such-course", "posttest"])), 404, "not_found")
    assert_error(learner_api.post(reverse("v1:attempt-start", args=[quiz.course.slug, kind])), 404, "not_found")
    assert not Attempt.objects.exists()


# --- the open attempt: no answer key anywhere -------------------------------------------------


def test_questions_come_in_the_stored_shuffled_order_with_option_ids_and_text(learner, learner_api):
    quiz = quiz_with_items(4)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    body = learner_api.get(attempt_url(attempt_id)).json()
    assert [q["id"] for q in body["questions"]] == [e["version"] for e in attempt.layout]
    assert [[o["id"] for o in q["options"]] for q in body["questions"]] == [e["options"] for e in attempt.layout]
    assert all(o["text_html"].startswith("<span>") for q in body["questions"] for o in q["options"])


def test_no_learner_response_of_an_open_attempt_carries_correctness_data(learner, learner_api):
    """The leak test: quiz info, start, resume, questions, saved questions, save: none names the key."""
    quiz = quiz_with_items(3, types=["single", "multiple", "truefalse"], confidence_enabled=True)
    responses = [learner_api.get(quiz_url(quiz)), learner_api.post(quiz_url(quiz, "v1:attempt-start"))]
    attempt_id = responses[-1].json()["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    responses.append(learner_api.post(quiz_url(quiz, "v1:attempt-start")))
    responses.append(learner_api.get(attempt_url(attempt_id)))
    responses.append(
        learner_api.put(
            attempt_url(attempt_id, "v1:attempt-answers"),
            {"answers": [{**a, "confidence": "sure"} for a in all_right(attempt)]},
            format="json",
        )
    )
    responses.append(learner_api.get(attempt_url(attempt_id)))  # now with every right answer chosen
    responses.append(learner_api.get(quiz_url(quiz)))
    responses.append(learner_api.get(attempt_url(attempt_id, "v1:attempt-result")))  # 409 attempt_open
    responses.append(learner_api.get(attempt_url(attempt_id, "v1:attempt-review")))  # 409 attempt_open
    for response in responses:
        assert response.status_code < 500
        text = response.content.decode()
        assert leaked_names(response.json()) == set(), (response.wsgi_request.path, text)
        assert RATIONALE_MARKER not in text
    assert Attempt.objects.get(pk=attempt_id).is_open


def _component_properties(name: str, seen=None) -> set[str]:
    """Every property name reachable from a component of the committed schema."""
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    schemas = spec()["components"]["schemas"]
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                found.update(_component_properties(node["$ref"].rsplit("/", 1)[1], seen))
            for prop, value in node.get("properties", {}).items():
                found.add(prop)
                walk(value)
            for key in ("items", "allOf", "oneOf", "anyOf"):
                if key in node:
                    walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schemas[name])
    return found


@pytest.mark.parametrize(
    "operation", ["quiz_retrieve", "attempt_start", "attempt_retrieve", "attempt_answers_save", "attempt_submit",
                  "attempt_result", "check_retrieve", "check_start"],
)
def test_the_schema_of_learner_attempt_responses_has_no_correctness_field(operation):
    operations = [op for path in spec()["paths"].values() for op in path.values() if op.get("operationId") == operation]
    (op,) = operations
    names: set[str] = set()
    for code, response in op["responses"].items():
        if code.startswith("2"):
            ref = response["content"]["application/json"]["schema"]["$ref"]
            names |= _component_properties(ref.rsplit("/", 1)[1])
    assert names, operation
    assert not {n for n in names if LEAK.search(n) and n != "correct_count"}, names


def test_review_schema_is_the_one_place_with_correctness_fields():
    assert {"is_correct", "rationale_html"} <= _component_properties("AttemptReviewOutput")


def test_another_learners_attempt_is_404_for_every_operation(learner, learner_api):
    quiz = quiz_with_items(2)
    other = UserFactory()
    attempt = attempt_start(learner=other, quiz=quiz)
    for method, name, body in [
        ("get", "v1:attempt-detail", None),
        ("put", "v1:attempt-answers", {"answers": []}),
        ("post", "v1:attempt-submit", {}),
        ("get", "v1:attempt-result", None),
        ("get", "v1:attempt-review", None),
    ]:
        response = getattr(learner_api, method)(attempt_url(attempt.pk, name), body, format="json")
        assert_error(response, HTTPStatus.NOT_FOUND, "not_found")
    assert Attempt.objects.get(pk=attempt.pk).is_open
    assert not ResponseChoice.objects.exists()


def test_a_huge_attempt_id_is_404_not_500(learner_api):
    assert_error(learner_api.get(attempt_url(2**63)), HTTPStatus.NOT_FOUND, "not_found")


def test_tokens_cannot_use_learner_attempt_endpoints(token_client):
    quiz = quiz_with_items(1)
    client = token_client(*Scope.values)
    assert_error(client.get(quiz_url(quiz)), HTTPStatus.FORBIDDEN, "permission_denied")
    assert_error(client.post(quiz_url(quiz, "v1:attempt-start")), HTTPStatus.FORBIDDEN, "permission_denied")
    assert not Attempt.objects.exists()


# --- save and submit -----------------------------------------------------------------------


def test_saved_answers_come_back_as_chosen(learner, learner_api):
    quiz = quiz_with_items(2)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    first = attempt.layout[0]
    response = learner_api.put(
        attempt_url(attempt_id, "v1:attempt-answers"),
        {"answers": [{"question": first["version"], "options": [first["options"][1]]}]},
        format="json",
    )
    assert response.status_code == HTTPStatus.OK and response.json()["saved_at"]
    question = learner_api.get(attempt_url(attempt_id)).json()["questions"][0]
    assert [o["chosen"] for o in question["options"]] == [False, True, False]


def test_submit_grades_and_second_submit_returns_the_first_result(learner, learner_api):
    quiz = quiz_with_items(4, pass_mark=75)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    url = attempt_url(attempt_id, "v1:attempt-submit")
    first = learner_api.post(url, {"answers": all_right(attempt)}, format="json")
    assert first.status_code == HTTPStatus.OK
    assert (first.json()["score"], first.json()["passed"]) == ("100.00", True)
    second = learner_api.post(url, {"answers": all_wrong(attempt)}, format="json")
    assert second.status_code == HTTPStatus.OK
    assert second.json() == first.json()
    assert Response.objects.filter(attempt_id=attempt_id, is_correct=True).count() == 4
    from curriculum.models import LearnerEvent

    assert LearnerEvent.objects.filter(verb="passed").count() == 1


def test_saving_after_submit_is_409_attempt_submitted_and_changes_nothing(learner, learner_api):
    quiz = quiz_with_items(2)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {}, format="json")
    response = learner_api.put(attempt_url(attempt_id, "v1:attempt-answers"), {"answers": all_right(attempt)}, format="json")
    assert_error(response, HTTPStatus.CONFLICT, "attempt_submitted")
    assert not ResponseChoice.objects.exists()
    assert_error(learner_api.get(attempt_url(attempt_id)), HTTPStatus.CONFLICT, "attempt_submitted")


def _bad_answer_bodies(attempt: Attempt) -> dict:
    first, second = attempt.layout[0], attempt.layout[1]
    return {
        "not_json_object": [],
        "answers_not_a_list": {"answers": "all of them"},
        "question_missing": {"answers": [{"options": [first["options"][0]]}]},
        "question_not_an_int": {"answers": [{"question": "x", "options": []}]},
        "question_too_large": {"answers": [{"question": 2**40, "options": []}]},
        "options_not_a_list": {"answers": [{"question": first["version"], "options": 3}]},
        "negative_option": {"answers": [{"question": first["version"], "options": [-1]}]},
        "bad_confidence": {"answers": [{"question": first["version"], "options": [], "confidence": "maybe"}]},
        "foreign_question": {"answers": [{"question": 999999, "options": []}]},
        "option_of_another_question": {"answers": [{"question": first["version"], "options": [second["options"][0]]}]},
        "two_options_for_single_answer": {"answers": [{"question": first["version"], "options": first["options"][:2]}]},
        "same_question_twice": {
            "answers": [{"question": first["version"], "options": []}, {"question": first["version"], "options": []}]
        },
    }


BAD_CASES = list(_bad_answer_bodies(Attempt(layout=[{"version": 1, "options": [1, 2]}] * 2)))


@pytest.mark.parametrize("case", BAD_CASES)
@pytest.mark.parametrize("name", ["v1:attempt-answers", "v1:attempt-submit"])
def test_bad_answers_are_400_with_fields_and_write_nothing(learner, learner_api, case, name):
    quiz = quiz_with_items(2)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    body = _bad_answer_bodies(attempt)[case]
    method = learner_api.put if name == "v1:attempt-answers" else learner_api.post
    error = assert_error(method(attempt_url(attempt_id, name), body, format="json"), HTTPStatus.BAD_REQUEST, "invalid")
    assert error["fields"]
    attempt.refresh_from_db()
    assert attempt.is_open and attempt.saved_at is None
    assert not ResponseChoice.objects.exists()
    assert not Response.objects.filter(attempt=attempt, answered_at__isnull=False).exists()


def test_unparseable_body_is_400_and_writes_nothing(learner_api):
    quiz = quiz_with_items(2)
    attempt_id = start(learner_api, quiz)["id"]
    response = learner_api.generic(
        "POST", attempt_url(attempt_id, "v1:attempt-submit"), "{not json", content_type="application/json"
    )
    assert_error(response, HTTPStatus.BAD_REQUEST, "malformed_request")
    assert Attempt.objects.get(pk=attempt_id).is_open


def test_learner_writes_need_the_csrf_token(learner):
    quiz = quiz_with_items(1)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    response = client.post(quiz_url(quiz, "v1:attempt-start"))
    assert_error(response, HTTPStatus.FORBIDDEN, "permission_denied")
    assert not Attempt.objects.exists()


# --- result and review ------------------------------------------------------------------------


def test_result_shows_score_and_review_availability_but_never_answers(learner, learner_api):
    quiz = quiz_with_items(2, review_rule=Quiz.ReviewRule.AFTER_PASS)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {"answers": all_wrong(attempt)}, format="json")
    response = learner_api.get(attempt_url(attempt_id, "v1:attempt-result"))
    body = response.json()
    assert (body["score"], body["passed"], body["review_available"], body["attempts_used"]) == ("0.00", False, False, 1)
    assert leaked_names(body) == {"correct_count"}
    assert RATIONALE_MARKER not in response.content.decode()


def test_review_before_the_rule_allows_is_403_review_not_allowed(learner, learner_api):
    quiz = quiz_with_items(2, review_rule=Quiz.ReviewRule.AFTER_LAST_ATTEMPT, attempt_limit=3)
    attempt_id = start(learner_api, quiz)["id"]
    learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {}, format="json")
    error = assert_error(learner_api.get(attempt_url(attempt_id, "v1:attempt-review")), 403, "review_not_allowed")
    assert RATIONALE_MARKER not in json.dumps(error)


def test_review_when_allowed_shows_key_rationales_and_choices(learner, learner_api):
    quiz = quiz_with_items(2, review_rule=Quiz.ReviewRule.ALWAYS)
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {"answers": all_right(attempt)}, format="json")
    body = learner_api.get(attempt_url(attempt_id, "v1:attempt-review")).json()
    assert [q["is_correct"] for q in body["questions"]] == [True, True]
    option = body["questions"][0]["options"][0]
    assert option["rationale_html"].startswith("<p>RATIONALE-")
    assert option["chosen"] == option["is_correct"]


def test_result_and_review_of_an_open_attempt_are_409_attempt_open(learner_api):
    quiz = quiz_with_items(1)
    attempt_id = start(learner_api, quiz)["id"]
    assert_error(learner_api.get(attempt_url(attempt_id, "v1:attempt-result")), 409, "attempt_open")
    assert_error(learner_api.get(attempt_url(attempt_id, "v1:attempt-review")), 409, "attempt_open")


# --- query counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5])
def test_attempt_questions_query_count_is_constant(learner, learner_api, django_assert_num_queries, n):
    quiz = quiz_with_items(n)
    attempt_id = start(learner_api, quiz)["id"]
    with django_assert_num_queries(3):  # attempt, responses with chosen options, option texts
        response = learner_api.get(attempt_url(attempt_id))
    assert len(response.json()["questions"]) == n


@pytest.mark.parametrize("n", [1, 5])
def test_save_and_submit_query_counts_are_constant(learner, learner_api, django_assert_num_queries, n):
    quiz = quiz_with_items(n)
    attempt_id = start(learner_api, quiz)["id"]
    body = {"answers": all_right(Attempt.objects.get(pk=attempt_id))}
    # attempt, savepoint, lock, responses with choices, delete and insert choices, update responses,
    # saved_at, release
    with django_assert_num_queries(9):
        learner_api.put(attempt_url(attempt_id, "v1:attempt-answers"), body, format="json")
    # savepoint, lock (the attempt's one read), responses with choices (none sent, none
    # rewritten), key, verdicts, grade, outcome and answered events (one insert), release
    with django_assert_num_queries(8):
        response = learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {}, format="json")
    assert response.json()["correct_count"] == n


@pytest.mark.parametrize("n", [1, 5])
def test_quiz_detail_start_result_and_review_query_counts_are_constant(
    learner, learner_api, django_assert_num_queries, n
):
    quiz = quiz_with_items(n, review_rule=Quiz.ReviewRule.ALWAYS)
    with django_assert_num_queries(2):  # quiz, attempts
        learner_api.get(quiz_url(quiz))
    with django_assert_num_queries(11):  # quiz, then attempt_start (lock, attempts, pool (2), inserts, savepoints)
        attempt_id = learner_api.post(quiz_url(quiz, "v1:attempt-start")).json()["id"]
    learner_api.post(attempt_url(attempt_id, "v1:attempt-submit"), {}, format="json")
    with django_assert_num_queries(5):  # attempt, stats, responses, options, chosen
        learner_api.get(attempt_url(attempt_id, "v1:attempt-result"))
    with django_assert_num_queries(5):
        learner_api.get(attempt_url(attempt_id, "v1:attempt-review"))


# --- golden ------------------------------------------------------------------------------------


def test_attempt_questions_body_is_golden(learner, learner_api):
    """Ids are replaced by their order of appearance, so the file does not depend on sequences."""
    quiz = quiz_with_items(2, types=["single", "multiple"], confidence_enabled=True)
    quiz.course.slug = "golden-course"
    quiz.course.save()
    attempt_id = start(learner_api, quiz)["id"]
    attempt = Attempt.objects.get(pk=attempt_id)
    # A fixed order and time: the shuffle is random per attempt, the order shown is what is pinned.
    layout = sorted(({"version": e["version"], "options": sorted(e["options"])} for e in attempt.layout),
                    key=lambda e: e["version"])
    start_at = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
    Attempt.objects.filter(pk=attempt_id).update(layout=layout, started_at=start_at)
    for number, entry in enumerate(layout, start=1):  # the position shown is the layout's
        ItemVersion.objects.filter(pk=entry["version"]).update(stem_html=f"<p>Golden stem {number}?</p>")
    learner_api.put(
        attempt_url(attempt_id, "v1:attempt-answers"),
        {"answers": [{"question": layout[0]["version"], "options": [layout[0]["options"][1]], "confidence": "unsure"}]},
        format="json",
    )
    Attempt.objects.filter(pk=attempt_id).update(saved_at=start_at + dt.timedelta(minutes=5))
    response = learner_api.get(attempt_url(attempt_id))
    assert_matches_schema(response)
    body = response.json()
    # Attempt, question and option ids come from three sequences, so they are renamed apart.
    body["id"] = "<attempt>"
    for q_number, question in enumerate(body["questions"], start=1):
        question["id"] = f"<question {q_number}>"
        for o_number, option in enumerate(question["options"], start=1):
            option["id"] = f"<option {q_number}.{o_number}>"
    assert_golden("attempt_questions", body)


# --- concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_api_submits_grade_once_and_return_the_same_result():
    """Two tabs submit at once through the API: one grading, one outbox event, equal bodies."""
    import threading

    from django.db import connection

    from curriculum.models import LearnerEvent

    learner = UserFactory()
    quiz = quiz_with_items(3)
    attempt = attempt_start(learner=learner, quiz=quiz)
    answers = all_right(attempt)
    barrier = threading.Barrier(2)
    bodies, errors = [], []

    def submit():
        try:
            client = APIClient()
            client.force_authenticate(user=learner)
            barrier.wait()
            response = client.post(attempt_url(attempt.pk, "v1:attempt-submit"), {"answers": answers}, format="json")
            bodies.append((response.status_code, response.json()))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [status for status, _ in bodies] == [200, 200]
    assert bodies[0][1] == bodies[1][1]
    assert bodies[0][1]["passed"] is True
    assert LearnerEvent.objects.filter(verb="passed").count() == 1
    assert Response.objects.filter(attempt=attempt, is_correct=True).count() == 3
