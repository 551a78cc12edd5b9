"""A paused LRS endpoint holds its deliveries in the outbox: not claimed, no try
logged, no backoff spent, never dead-lettered for it; on resume each goes to the
real LRS (Ralph) once, oldest first. Runs on SQLite and PostgreSQL."""

import datetime as dt
from collections import Counter
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from curriculum.models import LearnerEvent, LessonProgress
from curriculum.services import lesson_progress_open
from lms import outbox
from lms.models import Delivery, DeliveryAttempt
from lms.xapi import delivery, statements
from lms.xapi.models import LrsEndpoint
from tests.factories import LessonFactory, UserFactory
from tests.lms.xapi.conftest import journey_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _outbox_settings(settings):
    # The dead-letter window: 3 tries, 60 s then 120 s apart; a pause of days outlasts it many times.
    settings.LMS_OUTBOX_MAX_ATTEMPTS = 3
    settings.LMS_OUTBOX_BACKOFF_SECONDS = 60
    settings.LMS_OUTBOX_MAX_BACKOFF_SECONDS = 120
    settings.LMS_OUTBOX_TIMEOUT_SECONDS = 5


def _pause(endpoint, paused: bool = True):
    LrsEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=timezone.now() if paused else None)


def _run_at(later: dt.timedelta) -> outbox.RunReport:
    """One worker pass with the clock moved `later` ahead (every backoff long past)."""
    now = timezone.now() + later
    with mock.patch("django.utils.timezone.now", return_value=now):
        return outbox.outbox_run_once(worker="paused-test")


def _statement_ids(journey, events) -> Counter:
    return Counter(
        s["id"] for e in events if statements.has_statements(e)
        for s in delivery.event_statements(event=e, endpoint=journey.endpoint)
    )


def test_a_pause_longer_than_the_retry_window_dead_letters_nothing_and_resume_sends_each_once(ralph):
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    _pause(journey.endpoint)
    outbox.outbox_fanout()
    for later in (dt.timedelta(minutes=1), dt.timedelta(minutes=10), dt.timedelta(hours=6), dt.timedelta(days=3)):
        report = _run_at(later)
        assert (report.delivered, report.failed, report.dead, report.held) == (0, 0, 0, 0)
    # Events during the pause are queued for the paused endpoint too, and held.
    lesson = LessonFactory(course=journey.activity.course)
    lesson_progress_open(learner=journey.learner, lesson=lesson)
    late = LessonProgress.objects.get(learner=journey.learner, lesson=lesson)
    assert _run_at(dt.timedelta(days=4)).fanned_out >= 1

    rows = Delivery.objects.filter(kind="xapi")
    held = rows.count()
    assert held == len([e for e in journey.events if statements.has_statements(e)]) + 1
    assert set(rows.values_list("status", "attempts", "last_error")) == {(Delivery.Status.PENDING, 0, "")}
    assert not DeliveryAttempt.objects.exists()
    assert ralph.statements() == []

    _pause(journey.endpoint, paused=False)
    report = outbox.outbox_run_once(worker="paused-test")
    assert (report.delivered, report.failed, report.dead) == (held, 0, 0)
    assert set(rows.values_list("status", "attempts")) == {(Delivery.Status.DELIVERED, 1)}
    # In order: the tries were made in the deliveries' (queueing) order.
    tried = list(DeliveryAttempt.objects.order_by("pk").values_list("delivery_id", flat=True))
    assert tried == sorted(tried)
    events = list(LearnerEvent.objects.filter(learner=journey.learner))
    assert late.pk in {statements.event_object_pk(e) for e in events if e.verb == "experienced"}
    assert Counter(s["id"] for s in ralph.statements()) == _statement_ids(journey, events)
    assert outbox.outbox_run_once(worker="paused-test").delivered == 0  # nothing left, nothing sent twice


def test_a_pause_between_claim_and_send_gives_the_claim_back_untried(ralph):
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    outbox.outbox_fanout()
    before = dict(Delivery.objects.values_list("pk", "next_attempt_at"))
    claimed = outbox.deliveries_claim(worker="w1", batch=50)
    assert len(claimed) == len(before)
    _pause(journey.endpoint)
    assert [outbox.delivery_send(delivery=d, worker="w1") for d in claimed] == [None] * len(claimed)
    assert not DeliveryAttempt.objects.exists()
    assert set(Delivery.objects.values_list("status", "attempts", "claimed_by")) == {(Delivery.Status.PENDING, 0, "")}
    assert dict(Delivery.objects.values_list("pk", "next_attempt_at")) == before  # its place in the order kept
    assert outbox.deliveries_claim(worker="w2") == []  # paused: not claimable

    _pause(journey.endpoint, paused=False)
    assert outbox.outbox_run_once(worker="w2").delivered == len(before)
    assert Counter(s["id"] for s in ralph.statements()) == _statement_ids(journey, journey.events)


def test_an_unpaused_endpoint_that_fails_still_dead_letters(ralph, settings):
    """Pausing is not a general reprieve: a live endpoint that keeps failing ends dead, as before."""
    settings.LMS_OUTBOX_BACKOFF_SECONDS = 0
    settings.LMS_OUTBOX_MAX_BACKOFF_SECONDS = 0
    journey_make(url="http://127.0.0.1:9/xAPI/")  # nothing listens there
    report = outbox.outbox_run_once(worker="w1")
    assert report.dead == Delivery.objects.filter(kind="xapi").count() > 0


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_pauses_and_resumes_and_shows_the_paused_state(staff_client):
    journey = journey_make()
    outbox.outbox_fanout()
    changelist = reverse("admin:xapi_lrsendpoint_changelist")
    response = staff_client.post(changelist, {"action": "pause", "_selected_action": [journey.endpoint.pk]})
    assert response.status_code == HTTPStatus.FOUND
    journey.endpoint.refresh_from_db()
    assert journey.endpoint.is_paused
    page = staff_client.get(changelist).content.decode()
    assert "Paused since" in page
    pending = Delivery.objects.filter(kind="xapi").count()
    assert f'<td class="field-held_count">{pending}</td>' in page

    deliveries = reverse("admin:lms_delivery_changelist")
    held = staff_client.get(deliveries, {"held": "yes"})
    assert held.context["cl"].result_count == pending
    assert staff_client.get(deliveries, {"held": "no"}).context["cl"].result_count == 0

    staff_client.post(changelist, {"action": "resume", "_selected_action": [journey.endpoint.pk]})
    journey.endpoint.refresh_from_db()
    assert not journey.endpoint.is_paused
    assert "Delivering" in staff_client.get(changelist).content.decode()
    assert staff_client.get(deliveries, {"held": "yes"}).context["cl"].result_count == 0


@pytest.mark.parametrize("n_journeys", [1, 3])
def test_admin_lists_run_a_constant_number_of_queries(staff_client, django_assert_num_queries, n_journeys):
    for _ in range(n_journeys):
        journey_make()
    outbox.outbox_fanout()
    LrsEndpoint.objects.update(paused_at=timezone.now())
    staff_client.get(reverse("admin:xapi_lrsendpoint_changelist"))  # warm the session
    # session, user, count, total count, endpoints with organisation and pending count
    with django_assert_num_queries(5):
        assert staff_client.get(reverse("admin:xapi_lrsendpoint_changelist")).status_code == HTTPStatus.OK
    # session, user, counts, the page with its held flag (one subquery per kind), the filters' choices
    with django_assert_num_queries(7):
        assert staff_client.get(reverse("admin:lms_delivery_changelist")).status_code == HTTPStatus.OK
