"""The outbox delivery side, against a real HTTP receiver on 127.0.0.1.

Sending happens outside any transaction (delivery_send asserts it), so these
tests use `transaction=True`. The clock is moved by rewriting
`next_attempt_at`, not by sleeping.
"""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks import Webhook

from curriculum.models import LearnerEvent
from curriculum.services import lesson_progress_complete
from lms import outbox, services
from lms.models import Delivery, DeliveryAttempt, EventFanout
from tests.factories import LessonFactory, UserFactory
from tests.lms.factories import EnrolmentFactory, OrganisationFactory
from tests.lms.receiver import Receiver
from tests.lms.schema import assert_matches_component, webhook_component

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _outbox_settings(settings):
    settings.LMS_OUTBOX_MAX_ATTEMPTS = 4
    settings.LMS_OUTBOX_BACKOFF_SECONDS = 60
    settings.LMS_OUTBOX_TIMEOUT_SECONDS = 5


@pytest.fixture
def org():
    return OrganisationFactory()


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def subscription(org, receiver):
    sub, secret = services.webhook_subscription_create(organisation=org, url=receiver.url, events=["lesson.completed"])
    receiver.secret = secret
    return sub


def complete_lessons(organisation, n: int):
    """An enrolled learner of `organisation` completes `n` lessons; returns the learner identity."""
    identity = EnrolmentFactory(learner__organisation=organisation).learner
    for lesson in LessonFactory.create_batch(n, course=identity.enrolments.get().course):
        lesson_progress_complete(learner=identity.user, lesson=lesson, served_token=None, max_minutes=60)
    return identity


def make_all_due():
    """Move the clock past every backoff."""
    Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())


def test_delivered_webhook_is_signed_per_standard_webhooks(org, receiver, subscription):
    identity = complete_lessons(org, 1)
    report = outbox.outbox_run_once(worker="w1")
    assert report.delivered == 1
    (request,) = receiver.requests
    payload = Webhook(receiver.secret).verify(request["body"], request["headers"])  # raises if the signature is wrong
    assert payload["type"] == "lesson.completed"
    assert_matches_component(payload, "WebhookLessonCompleted")
    assert payload["data"]["learner"] == {"external_id": identity.external_id, "organisation": org.slug}
    assert request["headers"]["webhook-signature"].startswith("v1,")
    assert request["headers"]["idempotency-key"] == request["headers"]["webhook-id"]
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.DELIVERED
    assert DeliveryAttempt.objects.get().response_code == 200


@pytest.mark.parametrize("event_type", outbox.event_type_names())
def test_every_webhook_event_type_has_a_documented_payload(event_type):
    """An event type added to the registry needs its payload in lms/api/v1/schema.py."""
    from tests.lms.schema import spec

    assert webhook_component(event_type) in spec()["components"]["schemas"]


def test_a_tampered_body_fails_verification(org, receiver, subscription):
    complete_lessons(org, 1)
    outbox.outbox_run_once(worker="w1")
    (request,) = receiver.requests
    with pytest.raises(Exception, match="signature"):
        Webhook(receiver.secret).verify(request["body"].replace(b"lesson", b"lessoN"), request["headers"])


def test_event_rolled_back_with_its_transaction_is_never_sent(org, receiver, subscription):
    identity = EnrolmentFactory(learner__organisation=org).learner
    lesson = LessonFactory(course=identity.enrolments.get().course)
    with pytest.raises(RuntimeError), transaction.atomic():
        lesson_progress_complete(learner=identity.user, lesson=lesson, served_token=None, max_minutes=60)
        assert LearnerEvent.objects.filter(verb="completed").exists()
        raise RuntimeError("the request failed after recording the completion")
    report = outbox.outbox_run_once(worker="w1")
    assert (report.fanned_out, report.delivered) == (0, 0)
    assert not Delivery.objects.exists()
    assert receiver.requests == []


def test_receiver_down_for_a_while_gets_each_event_exactly_once_when_back(org, receiver, subscription):
    complete_lessons(org, 3)
    receiver.mode = "down"
    report = outbox.outbox_run_once(worker="w1")
    assert (report.delivered, report.failed) == (0, 3)
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 1)}
    assert all(d.next_attempt_at > timezone.now() + timedelta(seconds=50) for d in Delivery.objects.all())
    assert outbox.outbox_run_once(worker="w1").failed == 0  # backing off: nothing is due yet

    make_all_due()
    outbox.outbox_run_once(worker="w1")  # still down: second try
    receiver.mode = "lost_ack"  # back, but our first request's answer is lost
    make_all_due()
    outbox.outbox_run_once(worker="w1")
    receiver.mode = "up"
    make_all_due()
    report = outbox.outbox_run_once(worker="w1")

    assert report.delivered == 3
    assert len(receiver.messages) == 3  # each event kept once, by its idempotency key
    sent_ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(sent_ids) == 12 and len(set(sent_ids)) == 3  # 4 tries each, one stable id per event
    assert set(Delivery.objects.values_list("status", "attempts")) == {("delivered", 4)}
    codes = list(DeliveryAttempt.objects.filter(delivery=Delivery.objects.first()).values_list("response_code", flat=True))
    assert codes == [503, 503, 500, 200]


def test_permanently_failing_receiver_ends_dead_and_can_be_requeued(org, receiver, subscription, settings):
    settings.LMS_OUTBOX_BACKOFF_SECONDS = 0  # every retry is due at once
    receiver.mode = "down"
    complete_lessons(org, 1)
    report = outbox.outbox_run_once(worker="w1")
    assert report.dead == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.DEAD, 4)
    assert delivery.last_error == "HTTP 503"
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 4
    assert outbox.outbox_run_once(worker="w1").failed == 0  # dead rows are left alone

    receiver.mode = "up"
    assert outbox.deliveries_requeue(delivery_ids=[delivery.pk]) == 1
    assert outbox.outbox_run_once(worker="w1").delivered == 1
    assert len(receiver.messages) == 1


def test_paused_subscription_keeps_its_deliveries_until_resumed(org, receiver, subscription):
    complete_lessons(org, 1)
    outbox.outbox_fanout()  # queued while the subscription was on
    subscription.is_active = False
    subscription.save()
    outbox.outbox_run_once(worker="w1")
    assert receiver.requests == []
    assert Delivery.objects.get().status == Delivery.Status.PENDING
    subscription.is_active = True
    subscription.save()
    assert outbox.outbox_run_once(worker="w1").delivered == 1


def test_unreachable_receiver_is_logged_as_a_connection_error(org, subscription, receiver):
    receiver.server.server_close()  # nothing listens on the port any more
    complete_lessons(org, 1)
    outbox.outbox_run_once(worker="w1")
    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_code is None
    assert attempt.error


def test_fanout_only_reaches_the_learners_organisation(org, receiver, subscription):
    complete_lessons(OrganisationFactory(), 2)  # another organisation's learner
    lonely = UserFactory()  # no organisation at all
    lesson_progress_complete(learner=lonely, lesson=LessonFactory(), served_token=None, max_minutes=60)
    report = outbox.outbox_run_once(worker="w1")
    assert report.fanned_out == 6  # three lessons, each "experienced" and "completed"...
    assert not Delivery.objects.exists()  # ...none of them for this subscription
    assert receiver.requests == []


def test_events_from_before_the_subscription_are_not_sent(org, receiver):
    complete_lessons(org, 1)
    sub, receiver.secret = services.webhook_subscription_create(
        organisation=org, url=receiver.url, events=["lesson.completed"]
    )
    assert outbox.outbox_run_once(worker="w1").delivered == 0
    assert receiver.requests == []


def test_fanout_twice_makes_one_delivery_per_event_and_subscription(org, subscription):
    complete_lessons(org, 1)
    outbox.outbox_fanout()
    EventFanout.objects.all().delete()  # as if a second worker fanned out the same events
    outbox.outbox_fanout()
    assert Delivery.objects.count() == 1


def test_deliver_outbox_command_reports_progress(org, receiver, subscription):
    complete_lessons(org, 2)
    out = io.StringIO()
    call_command("deliver_outbox", "--once", "--worker", "cmd", stdout=out)
    text = out.getvalue()
    assert text.count("delivered [200]") == 2
    assert "2 delivered" in text


def test_create_integration_token_command_prints_a_working_token(org):
    from lms.selectors import integration_token_authenticate

    out = io.StringIO()
    call_command(
        "create_integration_token", "--org", org.slug, "--scopes", "catalog:read,progress:read",
        stdout=out, stderr=io.StringIO(),
    )
    token = integration_token_authenticate(raw=out.getvalue().strip())
    assert token.organisation == org
    assert token.scopes == ["catalog:read", "progress:read"]


@pytest.mark.postgres
def test_two_workers_never_send_the_same_delivery_twice(org, receiver, subscription):
    complete_lessons(org, 30)
    outbox.outbox_fanout()
    assert Delivery.objects.count() == 30
    barrier = threading.Barrier(2)
    reports, errors = {}, []

    def work(name: str):
        try:
            barrier.wait()
            reports[name] = outbox.outbox_run_once(worker=name, batch=3)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=work, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent_ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(sent_ids) == len(set(sent_ids)) == 30
    assert reports["w1"].delivered + reports["w2"].delivered == 30
    assert reports["w1"].delivered and reports["w2"].delivered  # both really worked
    assert DeliveryAttempt.objects.count() == 30
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.postgres
def test_two_worker_processes_in_loop_mode_deliver_each_event_once(org, receiver, subscription):
    """`manage.py deliver_outbox` as two real processes, as deployed, on the test database."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings as django_settings

    complete_lessons(org, 20)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "LMS_OUTBOX_BACKOFF_SECONDS": "1",
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    manage = Path(django_settings.BASE_DIR) / "manage.py"
    workers = [
        subprocess.Popen(
            [sys.executable, str(manage), "deliver_outbox", "--interval", "0.2", "--batch", "2", "--worker", name],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for name in ("p1", "p2")
    ]
    try:
        deadline = time.monotonic() + 60
        while len(receiver.messages) < 20 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()  # SIGTERM: each finishes the pass in hand, then exits cleanly
        codes = [worker.wait(timeout=10) for worker in workers]
    sent_ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    # A worker still starting up (Django's import) when stopped dies of the signal (-15): it had
    # claimed nothing. One that was working finishes its pass and exits with 0.
    assert set(codes) <= {0, -15}
    stopped_early = {name for name, code in zip(("p1", "p2"), codes, strict=True) if code == -15}
    assert not DeliveryAttempt.objects.filter(worker__in=stopped_early).exists()
    assert len(receiver.messages) == 20
    assert len(sent_ids) == len(set(sent_ids)) == 20
    assert set(DeliveryAttempt.objects.values_list("worker", flat=True)) <= {"p1", "p2"}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


# --- registered destinations (the hook for xAPI and LTI grade passback) ----------------


class _Result:
    def __init__(self, ok, retryable=True, response_code=None, error=""):
        self.ok, self.retryable, self.response_code, self.error = ok, retryable, response_code, error


@pytest.fixture
def fake_destination():
    """A destination kind 'fake' that wants every 'completed' event at destination rows 7 and 8."""
    sent, outcome = [], {"result": _Result(ok=True, response_code=204)}

    def fanout(events):
        return [(e, dest, f"fake.{e.verb}") for e in events if e.verb == "completed" for dest in (7, 8)]

    def send(delivery):
        assert not transaction.get_connection().in_atomic_block
        sent.append((delivery.event_id, delivery.destination_id, delivery.idempotency_key))
        return outcome["result"]

    outbox.destination_register(kind="fake", fanout=fanout, send=send)
    yield sent, outcome
    outbox.destination_unregister(kind="fake")


def test_registered_destination_gets_one_delivery_per_event_and_destination_row(org, fake_destination):
    sent, _ = fake_destination
    complete_lessons(org, 2)
    outbox.outbox_fanout()
    EventFanout.objects.all().delete()  # a second fan-out of the same events adds nothing
    report = outbox.outbox_run_once(worker="w1")
    assert report.delivered == 4
    assert sorted(dest for _event, dest, _key in sent) == [7, 7, 8, 8]
    assert set(Delivery.objects.values_list("kind", "status")) == {("fake", "delivered")}
    assert DeliveryAttempt.objects.filter(response_code=204).count() == 4


def test_a_non_retryable_failure_is_dead_at_once(org, fake_destination):
    _, outcome = fake_destination
    outcome["result"] = _Result(ok=False, retryable=False, response_code=400, error="statement rejected")
    complete_lessons(org, 1)
    report = outbox.outbox_run_once(worker="w1")
    assert report.dead == 2
    assert set(Delivery.objects.values_list("status", "attempts", "last_error")) == {("dead", 1, "statement rejected")}


def test_a_worker_leaves_kinds_it_cannot_send_pending(org, fake_destination):
    sent, _ = fake_destination
    complete_lessons(org, 1)
    outbox.outbox_fanout()
    outbox.destination_unregister(kind="fake")  # as in a process without that app
    assert outbox.outbox_run_once(worker="w1").delivered == 0
    assert sent == []
    assert set(Delivery.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_a_subscription_paused_between_claim_and_send_is_not_tried(org, receiver, subscription):
    complete_lessons(org, 1)
    outbox.outbox_fanout()
    [claimed] = outbox.deliveries_claim(worker="w1")
    subscription.is_active = False
    subscription.save()
    assert outbox.delivery_send(delivery=claimed, worker="w1") is None
    assert receiver.requests == []
    assert not DeliveryAttempt.objects.exists()
    assert Delivery.objects.values_list("status", "attempts", "claimed_by").get() == ("pending", 0, "")
    subscription.is_active = True
    subscription.save()
    assert outbox.outbox_run_once(worker="w2").delivered == 1
