"""Per-question "answered": recorded when a question is graded, sent to the LRS as
an xAPI cmi.interaction statement, never to webhooks."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curriculum.models import LearnerEvent
from lms import outbox
from lms.models import Delivery
from lms.xapi import delivery, statements
from lms.xapi.client import same_statement, statement_put
from lms.xapi.models import LrsEndpoint
from lms.xapi.validate import statement_problems
from quizzes import services
from quizzes.grading import Answer
from quizzes.models import Quiz, Response
from tests.factories import UserFactory
from tests.lms.factories import ExternalLearnerFactory
from tests.quizzes.factories import key_of, quiz_with_items


def _answers(attempt, *, right: int, blank: int = 0):
    key = key_of(attempt)
    out = []
    for index, entry in enumerate(attempt.layout[: len(attempt.layout) - blank]):
        version = entry["version"]
        out.append(Answer(version, frozenset(key[version]["correct"] if index < right else {min(key[version]["wrong"])})))
    return out


def _answered(learner) -> list[LearnerEvent]:
    return list(LearnerEvent.objects.filter(learner=learner, verb="answered").order_by("pk"))


@pytest.mark.django_db
def test_submit_records_one_answered_event_per_answered_question():
    learner = UserFactory()
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(4))
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=2, blank=1))
    responses = list(Response.objects.filter(attempt=attempt).order_by("position"))
    events = _answered(learner)
    # The blank fourth question was not answered: no statement says it was.
    assert sorted(e.object_ref for e in events) == sorted(f"quizzes.response:{r.pk}" for r in responses[:3])
    assert sorted(e.data["correct"] for e in events) == [False, True, True]
    assert {e.data["attempt"] for e in events} == {attempt.pk}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [Quiz.Kind.PRETEST, Quiz.Kind.POSTTEST])
def test_a_repeated_submit_records_nothing_more(kind):
    learner = UserFactory()
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(3, kind=kind))
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=3))
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=0))
    assert len(_answered(learner)) == 3


@pytest.mark.django_db
def test_knowledge_check_records_each_question_when_checked_and_once_only():
    learner = UserFactory()
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2, kind=Quiz.Kind.CHECK))
    one, two = _answers(attempt, right=1)
    services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=one)
    [first] = _answered(learner)
    assert first.object_ref == f"quizzes.response:{Response.objects.get(attempt=attempt, item_version_id=one.version_id).pk}"
    assert first.data["correct"] is True
    services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=two)  # the last: grades the attempt
    events = _answered(learner)
    assert [e.pk for e in events][:1] == [first.pk] and len(events) == 2
    assert events[1].data["correct"] is False


def _grading_queries(n: int) -> int:
    learner = UserFactory()
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(n))
    answers = _answers(attempt, right=n)
    with CaptureQueriesContext(connection) as ctx:
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
    assert len(_answered(learner)) == n
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_recording_answered_events_costs_the_same_queries_for_1_or_6_questions():
    assert _grading_queries(1) == _grading_queries(6)


@pytest.mark.django_db(transaction=True)
def test_webhooks_never_hear_of_answered_questions():
    from lms import services as lms_services

    assert not any(name.startswith("question") or "answer" in name for name in outbox.event_type_names())
    learner = UserFactory()
    identity = ExternalLearnerFactory(user=learner)
    lms_services.webhook_subscription_create(
        organisation=identity.organisation, url="http://127.0.0.1:9/hooks", events=outbox.event_type_names()
    )
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(2, kind=Quiz.Kind.PRETEST))
    services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=_answers(attempt, right=1))
    assert len(_answered(learner)) == 2
    outbox.outbox_fanout()
    assert not Delivery.objects.filter(kind=Delivery.Kind.WEBHOOK).exists()


@pytest.mark.django_db(transaction=True)
def test_answered_statement_reaches_the_real_lrs_and_reads_back_valid(ralph, lrs):
    """Through the outbox, as deployed: fan-out to the organisation's LRS, send, read back."""
    learner = UserFactory()
    identity = ExternalLearnerFactory(user=learner, external_id="emp-7")
    endpoint = LrsEndpoint.objects.create(
        organisation=identity.organisation, url=ralph.xapi_url, key=ralph.key, secret=ralph.secret,
        actor_home_page="https://lms.example.org",
    )
    attempt = services.attempt_start(learner=learner, quiz=quiz_with_items(1, kind=Quiz.Kind.CHECK))
    [answer] = _answers(attempt, right=1)
    services.attempt_answer_check(attempt_id=attempt.pk, learner=learner, answer=answer)
    [event] = _answered(learner)
    report = outbox.outbox_run_once(worker="answered-test")
    assert report.delivered == 1
    assert Delivery.objects.get(kind="xapi").event_type == "xapi.answered"
    [sent] = delivery.event_statements(event=event, endpoint=endpoint)
    stored = ralph.statement(sent["id"])
    assert same_statement(sent, stored)
    assert statement_problems(stored) == []
    assert stored["verb"]["id"] == "http://adlnet.gov/expapi/verbs/answered"
    definition = stored["object"]["definition"]
    assert definition["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    assert definition["interactionType"] == "choice" and "correctResponsesPattern" not in definition
    assert stored["result"]["success"] is True
    context = stored["context"]["contextActivities"]
    assert context["parent"][0]["definition"]["type"] == "http://adlnet.gov/expapi/activities/assessment"
    assert context["grouping"][0]["id"].endswith(f"/courses/{attempt.quiz.course.slug}/")
    # A resend (a lost acknowledgement) is the same statement: accepted, not stored twice.
    assert statement_put(lrs, sent).ok
    assert [s["id"] for s in ralph.statements()] == [sent["id"]]
    assert statements.statement_id("answered", event.object_ref) == sent["id"]
