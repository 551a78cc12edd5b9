"""Our statements against a REAL LRS (Ralph, started by conftest.py on loopback).

Sent, read back and compared; resent without duplicates; and with the LRS
stopped mid-run, nothing is lost and nothing doubled once it returns.
"""

from collections import Counter

import pytest

from curriculum.models import LearnerEvent
from lms.xapi import delivery, statements
from lms.xapi.client import Lrs, same_statement, statement_put
from lms.xapi.validate import statement_problems
from quizzes.models import Quiz


def _statements(journey) -> list[dict]:
    return [
        s
        for event in journey.events
        if statements.has_statements(event)
        for s in delivery.event_statements(event=event, endpoint=journey.endpoint)
    ]


@pytest.mark.django_db
def test_every_statement_is_accepted_and_read_back_unchanged(ralph_journey, ralph, lrs):
    sent = _statements(ralph_journey)
    results = [statement_put(lrs, s) for s in sent]
    assert [(r.ok, r.response_code) for r in results] == [(True, 204)] * len(sent)
    for statement in sent:
        stored = ralph.statement(statement["id"])
        assert same_statement(statement, stored), (statement, stored)
        assert stored["actor"] == statement["actor"] and stored["result" if "result" in statement else "id"] == (
            statement["result" if "result" in statement else "id"]
        )
        assert statement_problems(stored) == []
        assert stored["authority"]["account"]["name"] == ralph.key  # the LRS added who sent it
    assert sorted(s["id"] for s in ralph.statements()) == sorted(s["id"] for s in sent)
    assert sorted(s["id"] for s in ralph.statements(page_size=3)) == sorted(s["id"] for s in sent)  # paged


@pytest.mark.django_db
def test_a_resent_statement_is_not_a_duplicate(ralph_journey, ralph, lrs):
    sent = _statements(ralph_journey)
    for statement in sent:
        statement_put(lrs, statement)
    rebuilt = _statements(ralph_journey)  # as the outbox would on a retry: built again at delivery
    assert [statement_put(lrs, s).ok for s in rebuilt] == [True] * len(rebuilt)
    assert Counter(s["id"] for s in ralph.statements()) == Counter({s["id"]: 1 for s in sent})


@pytest.mark.django_db
def test_a_changed_statement_under_a_sent_id_is_a_permanent_failure(ralph_journey, lrs):
    statement = _statements(ralph_journey)[0]
    assert statement_put(lrs, statement).ok
    changed = {**statement, "timestamp": "2020-01-01T00:00:00.000Z"}
    result = statement_put(lrs, changed)
    assert (result.ok, result.retryable, result.response_code) == (False, False, 409)


@pytest.mark.django_db
def test_wrong_credentials_are_a_permanent_failure(ralph_journey, ralph):
    statement = _statements(ralph_journey)[0]
    result = statement_put(Lrs(url=ralph.xapi_url, key=ralph.key, secret="wrong", timeout=5), statement)
    assert (result.ok, result.retryable, result.response_code) == (False, False, 401)


@pytest.mark.django_db
def test_lrs_down_mid_run_loses_nothing_and_doubles_nothing(ralph_journey, ralph, lrs):
    """Half the statements go out; the LRS stops; the rest fail as retryable and
    stay pending; it comes back; every pending one is sent again, and so (at
    least once) is the last one delivered before the stop, whose answer a worker
    might have lost. The LRS ends with each statement exactly once."""
    sent = _statements(ralph_journey)
    half = len(sent) // 2
    assert all(statement_put(lrs, s).ok for s in sent[:half])

    ralph.stop()
    down = [statement_put(lrs, s) for s in sent[half:]]
    assert all(not r.ok and r.retryable for r in down), down
    pending = [s for s, r in zip(sent[half:], down, strict=True) if not r.ok]

    ralph.start()
    retried = [sent[half - 1], *pending]
    assert all(statement_put(lrs, s).ok for s in retried)
    assert Counter(s["id"] for s in ralph.statements()) == Counter({s["id"]: 1 for s in sent})


@pytest.mark.django_db
def test_deliver_to_lrs_sends_each_event_from_its_endpoint_settings(ralph_journey, ralph):
    """The outbox's entry point: the endpoint row gives URL, credentials and actor."""
    events = [e for e, _endpoint in delivery.lrs_destinations(events=ralph_journey.events)]
    results = [delivery.deliver_to_lrs(event=e, endpoint=ralph_journey.endpoint) for e in events]
    assert all(r.ok for r in results), results
    stored = ralph.statements()
    assert len(stored) == len(_statements(ralph_journey))
    assert {s["actor"]["account"]["name"] for s in stored} == {"emp-0042"}
    # Credit claimed gives two statements: the course completed and the credit earned.
    claim = next(e for e in events if e.verb == "credit_claimed")
    assert {s["verb"]["display"]["en-US"] for s in stored if s["id"] in {
        statements.statement_id("completed", claim.object_ref), statements.statement_id("earned", claim.object_ref)
    }} == {"completed", "earned"}


@pytest.mark.django_db
def test_deliver_to_lrs_with_lrs_down_is_retryable(ralph_journey, ralph):
    event = LearnerEvent.objects.filter(learner=ralph_journey.learner, verb="passed").get()
    ralph.stop()
    result = delivery.deliver_to_lrs(event=event, endpoint=ralph_journey.endpoint)
    ralph.start()
    assert not result.ok and result.retryable


@pytest.mark.django_db
def test_a_retry_after_a_quiz_rename_is_delivered_not_duplicated(ralph_journey, ralph, lrs):
    """Ralph answers 409 (the object's name differs); the fact is already there: delivered, once."""
    event = ralph_journey.event("passed", "quizzes.attempt")
    [first] = delivery.event_statements(event=event, endpoint=ralph_journey.endpoint)
    assert statement_put(lrs, first).ok
    Quiz.objects.filter(course=ralph_journey.activity.course).update(title="Post-test (renamed)")
    [again] = delivery.event_statements(event=event, endpoint=ralph_journey.endpoint)
    result = statement_put(lrs, again)
    assert (result.ok, result.response_code) == (True, 409)
    assert [s["id"] for s in ralph.statements()] == [first["id"]]
    assert ralph.statement(first["id"])["object"]["definition"]["name"] == {"en-US": "Post-test"}
