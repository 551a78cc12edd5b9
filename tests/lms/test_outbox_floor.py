"""The fan-out's floor (lms/outbox.py: FanoutFloor): a pass reads only events above it, and an
event the floor passed over while its transaction was open is found by the sweep, once.

Before the floor, every pass looked for new events among all of them: 0.84 s a
pass at 1.5 million events (`make bench --scale 10`'s database), every two
seconds, however few were new.
"""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from curriculum.models import LearnerEvent
from curriculum.services import learner_event_record
from lms import outbox
from lms.models import EventFanout
from tests.factories import LessonFactory, UserFactory
from tests.scale import explain_rows, selects_captured

OUTBOX_TABLES = frozenset({LearnerEvent._meta.db_table, EventFanout._meta.db_table})


def _event(learner, n: int, *, at=None) -> LearnerEvent:
    lesson = LessonFactory()
    return learner_event_record(learner=learner, verb="experienced", obj=lesson, data={"n": n}) if at is None else (
        LearnerEvent.objects.create(learner=learner, verb="experienced", object_ref=f"test:{n}", occurred_at=at)
    )


def _fanned(event: LearnerEvent) -> bool:
    return EventFanout.objects.filter(event=event).exists()


def _sweep_due():
    outbox.FANOUT_FLOOR.swept_at = time.monotonic() - 10 ** 6


@pytest.mark.django_db
def test_the_floor_passes_only_events_older_than_the_late_commit_margin(settings):
    learner = UserFactory()
    old = _event(learner, 1, at=timezone.now() - dt.timedelta(minutes=5))
    new = _event(learner, 2, at=timezone.now())

    assert outbox.outbox_fanout() == 2  # the first pass of a process is a sweep
    assert _fanned(old) and _fanned(new)
    # `new` is younger than the margin: another transaction could still commit an event below it.
    assert outbox.FANOUT_FLOOR.below == old.pk

    settings.LMS_OUTBOX_LATE_COMMIT_SECONDS = 0
    assert outbox.outbox_fanout() == 0
    assert outbox.FANOUT_FLOOR.below == new.pk


@pytest.mark.django_db
def test_a_full_batch_moves_the_floor_no_further_than_its_last_event(settings):
    settings.LMS_OUTBOX_LATE_COMMIT_SECONDS = 0
    learner = UserFactory()
    events = [_event(learner, n, at=timezone.now() - dt.timedelta(hours=1)) for n in range(5)]

    assert outbox.outbox_fanout(batch=2) == 2
    assert outbox.FANOUT_FLOOR.below == events[1].pk  # three more wait above it
    assert outbox.outbox_fanout(batch=2) == 2
    assert outbox.outbox_fanout(batch=2) == 1
    assert all(_fanned(e) for e in events)
    assert outbox.FANOUT_FLOOR.below == events[-1].pk


@pytest.mark.django_db
def test_an_event_below_the_floor_waits_for_the_sweep_and_is_fanned_out_once(settings):
    learner = UserFactory()
    assert outbox.outbox_fanout() == 0  # the start-up sweep
    passed_over = _event(learner, 1)
    outbox.FANOUT_FLOOR.below = passed_over.pk  # as if it committed after the floor went past it

    assert outbox.outbox_fanout() == 0
    assert not _fanned(passed_over)

    _sweep_due()
    assert outbox.outbox_fanout() == 1
    assert _fanned(passed_over)
    _sweep_due()
    assert outbox.outbox_fanout() == 0  # the sweep does not fan it out twice


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_the_floor_passed_it_is_delivered_by_the_sweep(settings):
    """Real concurrency: a transaction holds an event's id while a later event commits and the
    floor moves past both; when the first commits, the next sweep fans it out, exactly once."""
    settings.LMS_OUTBOX_LATE_COMMIT_SECONDS = 0
    learner = UserFactory()
    assert outbox.outbox_fanout() == 0
    inserted, release = threading.Event(), threading.Event()
    late: list[LearnerEvent] = []

    def slow_transaction():
        try:
            with transaction.atomic():
                late.append(_event(learner, 1))
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert inserted.wait(10)
    later = _event(learner, 2)
    assert later.pk > late[0].pk
    assert outbox.outbox_fanout() == 1  # `later`; the open transaction's event is not visible
    assert outbox.FANOUT_FLOOR.below == later.pk
    release.set()
    thread.join(10)

    assert outbox.outbox_fanout() == 0  # below the floor: not looked at
    assert not _fanned(late[0])
    _sweep_due()
    assert outbox.outbox_fanout() == 1
    assert _fanned(late[0]) and EventFanout.objects.filter(event=late[0]).count() == 1


@pytest.mark.postgres
@pytest.mark.volume
@pytest.mark.django_db
def test_a_pass_reads_the_events_above_the_floor_not_every_event(settings):
    settings.LMS_OUTBOX_LATE_COMMIT_SECONDS = 0
    learner = UserFactory()
    old = timezone.now() - dt.timedelta(hours=1)
    history = LearnerEvent.objects.bulk_create(
        LearnerEvent(learner=learner, verb="experienced", object_ref=f"test:{n}", occurred_at=old) for n in range(300)
    )
    EventFanout.objects.bulk_create(EventFanout(event=e) for e in history)

    with selects_captured() as sweep:
        assert outbox.outbox_fanout() == 0
    _event(learner, 1000)
    with selects_captured() as fast:
        assert outbox.outbox_fanout() == 1

    def reads(queries):
        return sum(explain_rows(sql, params, OUTBOX_TABLES) for sql, params in queries)

    assert reads(sweep) >= 300  # the check sees a pass over every event
    assert reads(fast) < 10
