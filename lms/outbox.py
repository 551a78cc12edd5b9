"""The delivery side of the outbox: LearnerEvent rows out to the world.

`curriculum.LearnerEvent` is written in the same transaction as the fact it
reports (a rolled-back change leaves no event). Here, outside any request:

1. `outbox_fanout()` turns each new event into one `Delivery` per destination
   that wants it (webhook subscriptions of the learner's organisation, and
   whatever other destinations registered with `destination_register()`:
   an LRS, an LTI gradebook) and marks the event with an
   `EventFanout` row. Rerunning it, or two workers at once, adds nothing
   twice (unique constraints, `ignore_conflicts`).
2. `deliveries_claim()` takes due rows with `select_for_update(skip_locked=
   True)` and pushes their `next_attempt_at` one lease ahead before
   committing, so no other worker sees them while they are being sent.
   Rows whose destination is paused are not due: they wait, pending, with
   no try logged and no backoff spent, and go out in order on resume.
3. `delivery_send()` builds the payload (from the registry below, at delivery
   time), sends it outside any transaction, logs a `DeliveryAttempt`, and
   either marks the row delivered, schedules a retry with exponential
   backoff, or after LMS_OUTBOX_MAX_ATTEMPTS marks it dead.

Delivery is at least once: a receiver that answered but whose answer we lost
gets the request again, with the same `webhook-id`/`Idempotency-Key`, so it
can drop the repeat and see each event exactly once.

Other apps' events become deliverable by registering an event type here
(`@event_type(...)`), keyed by the event's verb and object model.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from credits.models import Certificate, Claim
from curriculum.models import LearnerEvent, LessonProgress
from lms.models import (
    Delivery,
    DeliveryAttempt,
    EventFanout,
    ExternalLearner,
    WebhookSubscription,
)

# --- event registry ------------------------------------------------------------------

PayloadBuilder = Callable[[LearnerEvent, ExternalLearner], dict]


@dataclass(frozen=True)
class EventType:
    name: str  # what subscribers choose and receive as "type", e.g. "lesson.completed"
    verb: str  # LearnerEvent.verb
    model: str  # the label of LearnerEvent.object_ref's model, e.g. "curriculum.lessonprogress"
    build: PayloadBuilder


_EVENT_TYPES: dict[tuple[str, str], EventType] = {}


def event_type(*, name: str, verb: str, model: str) -> Callable[[PayloadBuilder], PayloadBuilder]:
    """Register the payload of one kind of event. The builder runs at delivery
    and returns the `data` object; it may raise, which fails (and retries) that try."""

    def register(build: PayloadBuilder) -> PayloadBuilder:
        _EVENT_TYPES[(verb, model)] = EventType(name=name, verb=verb, model=model, build=build)
        return build

    return register


def event_type_names() -> list[str]:
    return sorted(t.name for t in _EVENT_TYPES.values())


def event_type_of(event: LearnerEvent) -> EventType | None:
    model, _, _pk = event.object_ref.rpartition(":")
    return _EVENT_TYPES.get((event.verb, model))


def _object_pk(event: LearnerEvent) -> int:
    return int(event.object_ref.rpartition(":")[2])


def _learner(identity: ExternalLearner) -> dict:
    return {"external_id": identity.external_id, "organisation": identity.organisation.slug}


@event_type(name="lesson.completed", verb="completed", model="curriculum.lessonprogress")
def _lesson_completed(event: LearnerEvent, identity: ExternalLearner) -> dict:
    progress = LessonProgress.objects.select_related("lesson__course", "completed_version").get(
        pk=_object_pk(event)
    )
    return {
        "learner": _learner(identity),
        "course": progress.lesson.course.slug,
        "lesson": progress.lesson.slug,
        "lesson_version": progress.completed_version.number if progress.completed_version else None,
        "completed_at": progress.completed_at,
        "seconds_on_page": progress.seconds_on_page,
    }


def _posttest(event: LearnerEvent, identity: ExternalLearner) -> dict:
    from quizzes.models import Attempt

    attempt = Attempt.objects.select_related("quiz__course").defer("layout").get(pk=_object_pk(event))
    return {
        "learner": _learner(identity),
        "course": attempt.quiz.course.slug,
        "attempt": attempt.number,
        "score": attempt.score,
        "pass_mark": attempt.quiz.pass_mark,
        "passed": attempt.passed,
        "submitted_at": attempt.submitted_at,
    }


event_type(name="posttest.passed", verb="passed", model="quizzes.attempt")(_posttest)
event_type(name="posttest.failed", verb="failed", model="quizzes.attempt")(_posttest)


@event_type(name="credit.claimed", verb="credit_claimed", model="credits.claim")
def _credit_claimed(event: LearnerEvent, identity: ExternalLearner) -> dict:
    claim = Claim.objects.select_related("activity__course").get(pk=_object_pk(event))
    return {
        "learner": _learner(identity),
        "course": claim.activity.course.slug,
        "credit_type": claim.credit_type,
        "hours": claim.hours,
        "completed_on": claim.completed_on,
        "claimed_at": claim.attested_at,
    }


def _certificate(event: LearnerEvent, identity: ExternalLearner) -> dict:
    certificate = Certificate.objects.select_related(
        "claim__activity__course", "revocation", "superseded_by"
    ).get(pk=_object_pk(event))
    revocation = getattr(certificate, "revocation", None)
    return {
        "learner": _learner(identity),
        "course": certificate.claim.activity.course.slug,
        "certificate": certificate.pk,
        "credit_type": certificate.credit_type,
        "amount": certificate.amount,
        "completed_on": certificate.completed_on,
        "issued_at": certificate.issued_at,
        "revoked_at": revocation.revoked_at if revocation else None,
        "supersedes": certificate.supersedes_id,
    }


event_type(name="certificate.issued", verb="certificate_issued", model="credits.certificate")(_certificate)
event_type(name="certificate.revoked", verb="certificate_revoked", model="credits.certificate")(_certificate)


def event_payload(*, event: LearnerEvent, identity: ExternalLearner) -> dict:
    """The envelope every destination receives: {type, timestamp, data}."""
    kind = event_type_of(event)
    if kind is None:
        raise LookupError(f"no event type registered for {event.verb} {event.object_ref}")
    return {"type": kind.name, "timestamp": event.occurred_at, "data": kind.build(event, identity)}


# --- destinations other than webhooks ----------------------------------------------------

# (event, the destination's own row id, event type label) for each delivery to create.
Fanout = Callable[[list[LearnerEvent]], Iterable[tuple[LearnerEvent, int, str]]]
# The ids of the destination rows that are paused now, as a query the claim
# can use as a subquery (`Model.objects.filter(...).values("pk")`).
Paused = Callable[[], QuerySet]


@dataclass(frozen=True)
class Destination:
    kind: str
    fanout: Fanout
    # Sends one delivery; returns anything with `ok`, and optionally
    # `response_code`, `error` and `retryable` (False: resending cannot help,
    # so the delivery is dead at once). Runs outside any transaction.
    send: Callable[[Delivery], object]
    paused: Paused | None = None


_DESTINATIONS: dict[str, Destination] = {}


def destination_register(
    *, kind: str, fanout: Fanout, send: Callable[[Delivery], object], paused: Paused | None = None
) -> None:
    """Make the outbox deliver to another kind of destination (an LRS, an LTI gradebook).

    `fanout(events)` is called once per batch of new events, inside the
    fan-out transaction, and says which destination rows want which event;
    `send(delivery)` is called per claimed delivery (it reads
    `delivery.event_id` and `delivery.destination_id`). Claiming, backoff,
    the attempt log, dead letters and re-queueing are the outbox's. Call it
    from the destination app's `AppConfig.ready()`. A worker claims only the
    kinds registered in its process.

    `paused()` returns a query of the destination ids that are paused: their
    deliveries stay pending and are not claimed (no try, no backoff, never
    dead for it) until the row is resumed. A `send` that finds its row
    paused after the claim returns a result with `held=True`: the claim is
    released as it was, with no try logged.
    """
    if kind == Delivery.Kind.WEBHOOK or len(kind) > 20:
        raise ValueError(f"cannot register destination kind {kind!r}")
    _DESTINATIONS[kind] = Destination(kind=kind, fanout=fanout, send=send, paused=paused)


def destination_unregister(*, kind: str) -> None:
    _DESTINATIONS.pop(kind, None)


# --- fan-out -------------------------------------------------------------------------


@dataclass
class FanoutFloor:
    """Where this process's fan-out starts looking: every event up to `below` had been fanned
    out when it last looked, but for an event whose transaction was still open then.

    Without it, each pass looked for new events among all of them (an anti-join of
    every event with its fan-out row): 0.84 s a pass at 1.5 million events, every
    two seconds, however few were new. A pass now reads the events above the
    floor. The floor passes only events older than LMS_OUTBOX_LATE_COMMIT_SECONDS,
    so an event whose transaction commits within that long is never passed
    over; a slower one is found by the sweep, a pass over every event that each
    process makes when it starts and every LMS_OUTBOX_SWEEP_SECONDS after. Late
    means later, never lost.
    """

    below: int = 0
    swept_at: float | None = None  # time.monotonic() of the last sweep; None: sweep next

    def reset(self) -> None:
        self.below, self.swept_at = 0, None


FANOUT_FLOOR = FanoutFloor()


def outbox_fanout(*, batch: int = 500) -> int:
    """Turn up to `batch` new events into deliveries; returns how many events it handled.

    Idempotent and safe to run in several workers at once. A subscription
    hears of events about its own organisation's learners that happened
    after it was created. Six queries per batch, whatever its size, plus
    those of each registered destination's `fanout`; each reads the events
    above this process's `FANOUT_FLOOR`, except a sweep's.
    """
    floor = FANOUT_FLOOR
    sweep = floor.swept_at is None or time.monotonic() - floor.swept_at >= settings.LMS_OUTBOX_SWEEP_SECONDS
    above = 0 if sweep else floor.below
    with transaction.atomic():
        events = list(LearnerEvent.objects.filter(pk__gt=above, fanout__isnull=True).order_by("pk")[:batch])
        if events:
            _deliveries_create(events)
    if sweep:
        floor.swept_at = time.monotonic()
    floor.below = max(above, _floor_next(events, full=len(events) == batch))
    return len(events)


def _deliveries_create(events: list[LearnerEvent]) -> None:
    """The deliveries of `events` (webhooks and registered destinations) and their fan-out rows.
    Four queries, plus each destination's `fanout`; rerun, it adds nothing twice."""
    subscriptions = list(
        WebhookSubscription.objects.filter(is_active=True, organisation__is_active=True)
    )
    orgs_of: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in ExternalLearner.objects.filter(
        user_id__in={e.learner_id for e in events}
    ).values_list("user_id", "organisation_id"):
        orgs_of[user_id].add(org_id)
    deliveries = []
    for event in events:
        kind = event_type_of(event)
        if kind is None:
            continue  # no webhook can subscribe to it yet; the fan-out row still marks it handled
        for sub in subscriptions:
            if (
                kind.name in sub.events
                and sub.organisation_id in orgs_of[event.learner_id]
                and event.occurred_at >= sub.created_at
            ):
                deliveries.append(
                    Delivery(
                        event=event,
                        kind=Delivery.Kind.WEBHOOK,
                        subscription=sub,
                        event_type=kind.name,
                        idempotency_key=f"msg_{uuid.uuid4().hex}",
                    )
                )
    for destination in _DESTINATIONS.values():
        for event, destination_id, event_type in destination.fanout(events):
            deliveries.append(
                Delivery(
                    event=event,
                    kind=destination.kind,
                    destination_id=destination_id,
                    event_type=event_type[:60],
                    idempotency_key=f"msg_{destination.kind}_{event.pk}_{destination_id}",
                )
            )
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    EventFanout.objects.bulk_create([EventFanout(event=e) for e in events], ignore_conflicts=True)


def _floor_next(events: list[LearnerEvent], *, full: bool) -> int:
    """The highest event id the floor may pass after a pass that handled `events`: the newest
    event older than the late-commit margin, and no further than the batch when it was full
    (there are more new events above it). One query, by the primary key from the newest."""
    cutoff = timezone.now() - dt.timedelta(seconds=settings.LMS_OUTBOX_LATE_COMMIT_SECONDS)
    newest_old = (
        LearnerEvent.objects.filter(occurred_at__lte=cutoff).order_by("-pk").values_list("pk", flat=True).first()
    ) or 0
    return min(newest_old, events[-1].pk) if full else newest_old


# --- pausing ---------------------------------------------------------------------------


def deliveries_held_q() -> Q:
    """Deliveries whose destination is paused now: a paused (inactive) webhook
    subscription or organisation, or a registered destination's paused row.

    A filter, not a state: pausing writes nothing to the deliveries, so
    resuming is just the destination row changing back. Each registered kind
    adds one subquery, no extra query.
    """
    held = Q(subscription__is_active=False) | Q(subscription__organisation__is_active=False)
    for destination in _DESTINATIONS.values():
        if destination.paused is not None:
            held |= Q(kind=destination.kind, destination_id__in=destination.paused())
    return held


# --- claiming and sending ------------------------------------------------------------


def _lease(batch: int) -> dt.timedelta:
    # Long enough to send the whole batch at the HTTP timeout, plus slack: a
    # lease expiring mid-send would let a second worker send the row too.
    return dt.timedelta(seconds=settings.LMS_OUTBOX_TIMEOUT_SECONDS * batch + 60)


def deliveries_claim(*, worker: str, batch: int = 20) -> list[Delivery]:
    """Claim up to `batch` due deliveries for this worker. Two queries, one short transaction.

    `skip_locked` lets several workers claim at once without waiting on or
    taking each other's rows; pushing `next_attempt_at` a lease ahead before
    commit keeps the rows out of every other claim while they are sent. A
    worker that dies mid-batch leaves its rows to be retried after the lease.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            # of=("self",): lock the delivery rows only, not the joined subscriptions.
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(kind__in=[Delivery.Kind.WEBHOOK, *_DESTINATIONS])  # only what this process can send
            # A paused destination keeps its deliveries pending, not failing:
            # they go out, oldest first, when it is switched back on.
            .exclude(deliveries_held_q())
            .order_by("next_attempt_at", "pk")[:batch]
        )
        if rows:
            Delivery.objects.filter(pk__in=[r.pk for r in rows]).update(
                next_attempt_at=now + _lease(batch), claimed_by=worker
            )
    return rows


def backoff(attempts: int) -> dt.timedelta:
    """Wait before try `attempts + 1`: base × 2^(attempts−1), capped, with up to 10% jitter
    so that a receiver coming back is not hit by every delivery in the same second."""
    base = settings.LMS_OUTBOX_BACKOFF_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.LMS_OUTBOX_MAX_BACKOFF_SECONDS)
    return dt.timedelta(seconds=seconds * (1 + random.random() / 10))


@dataclass
class SendResult:
    ok: bool
    response_code: int | None = None
    error: str = ""
    retryable: bool = True  # False: resending cannot help; the delivery is dead at once
    held: bool = False  # the destination was paused after the claim: nothing sent, no try


def sign_webhook(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks signature: "v1," + base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET elsewhere; a receiver must answer itself.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    if urlsplit(url).scheme not in {"http", "https"}:
        return SendResult(ok=False, error=f"unsupported URL scheme in {url!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (scheme checked)
    try:
        with _opener.open(request, timeout=settings.LMS_OUTBOX_TIMEOUT_SECONDS) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    if 200 <= code < 300:
        return SendResult(ok=True, response_code=code)
    return SendResult(ok=False, response_code=code, error=f"HTTP {code}")


def _webhook_send(delivery: Delivery) -> SendResult:
    subscription = delivery.subscription
    if not subscription.is_active:  # paused since the claim: give the row back untried
        return SendResult(ok=False, held=True, error="webhook subscription is paused")
    event = LearnerEvent.objects.get(pk=delivery.event_id)
    identity = ExternalLearner.objects.select_related("organisation").get(
        organisation_id=subscription.organisation_id, user_id=event.learner_id
    )
    body = json.dumps(
        event_payload(event=event, identity=identity), cls=DjangoJSONEncoder, separators=(",", ":")
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kratom-ce-webhooks/1",
        "webhook-id": delivery.idempotency_key,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(
            secret=subscription.secret, msg_id=delivery.idempotency_key, timestamp=timestamp, body=body
        ),
        "Idempotency-Key": delivery.idempotency_key,
    }
    return _post(subscription.url, body, headers)


def _send(delivery: Delivery) -> SendResult:
    if delivery.kind == Delivery.Kind.WEBHOOK:
        return _webhook_send(delivery)
    result = _DESTINATIONS[delivery.kind].send(delivery)
    return SendResult(
        ok=bool(result.ok),
        response_code=getattr(result, "response_code", None),
        error=getattr(result, "error", "") or "",
        retryable=getattr(result, "retryable", True),
        held=bool(getattr(result, "held", False)),
    )


def delivery_send(*, delivery: Delivery, worker: str) -> DeliveryAttempt | None:
    """Try one claimed delivery; record the try and the row's next state.

    Call it outside any transaction: the network call must not hold locks or
    a connection's transaction open. Never raises for a failed send. Returns
    None, logging nothing, if the destination was paused since the claim.
    """
    assert not transaction.get_connection().in_atomic_block, "send outside any transaction"
    started_at = timezone.now()
    clock = time.monotonic()
    try:
        result = _send(delivery)
    except Exception as exc:  # a payload that cannot be built is a failed try, logged, retried
        result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    duration_ms = int((time.monotonic() - clock) * 1000)
    if result.held:
        _delivery_release(delivery=delivery, worker=worker)
        return None
    return _delivery_record(
        delivery=delivery, worker=worker, result=result, started_at=started_at, duration_ms=duration_ms
    )


def _delivery_release(*, delivery: Delivery, worker: str) -> None:
    """Give a claimed row back untouched: due when it was before the claim (its
    place in the order), no try counted. Only while the claim is still ours."""
    Delivery.objects.filter(pk=delivery.pk, claimed_by=worker, status=Delivery.Status.PENDING).update(
        next_attempt_at=delivery.next_attempt_at, claimed_by=""
    )


@transaction.atomic
def _delivery_record(
    *, delivery: Delivery, worker: str, result: SendResult, started_at, duration_ms: int
) -> DeliveryAttempt:
    now = timezone.now()
    attempts = delivery.attempts + 1
    if result.ok:
        changes = {"status": Delivery.Status.DELIVERED, "delivered_at": now, "last_error": ""}
    elif attempts >= settings.LMS_OUTBOX_MAX_ATTEMPTS or not result.retryable:
        changes = {"status": Delivery.Status.DEAD, "last_error": result.error}
    else:
        changes = {"next_attempt_at": now + backoff(attempts), "last_error": result.error}
    # Only while the claim is still ours: if our lease ran out and another
    # worker took the row, its outcome is the one that counts.
    Delivery.objects.filter(pk=delivery.pk, claimed_by=worker, status=Delivery.Status.PENDING).update(
        attempts=attempts, **changes
    )
    delivery.status = changes.get("status", Delivery.Status.PENDING)
    return DeliveryAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        outcome=DeliveryAttempt.Outcome.SUCCESS if result.ok else DeliveryAttempt.Outcome.FAILURE,
        response_code=result.response_code,
        duration_ms=duration_ms,
        error=result.error[:2000],
        started_at=started_at,
        worker=worker,
    )


def deliveries_requeue(*, delivery_ids: list[int]) -> int:
    """Put dead (or pending) deliveries back in the queue now, with a fresh count of tries.

    Delivered rows are left alone: re-sending them is the receiver's job to
    ask for. Returns how many rows were re-queued. One query.
    """
    return Delivery.objects.filter(pk__in=delivery_ids).exclude(status=Delivery.Status.DELIVERED).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by=""
    )


@dataclass
class RunReport:
    fanned_out: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    held: int = 0


def outbox_run_once(*, worker: str, batch: int = 20, progress: Callable[[str], None] | None = None) -> RunReport:
    """One pass: fan out new events, then claim and send due deliveries until none is due."""
    say = progress or (lambda _msg: None)
    report = RunReport()
    while handled := outbox_fanout():
        report.fanned_out += handled
    while claimed := deliveries_claim(worker=worker, batch=batch):
        for delivery in claimed:
            attempt = delivery_send(delivery=delivery, worker=worker)
            if attempt is None:
                report.held += 1
                say(f"delivery {delivery.pk} ({delivery.event_type} → {delivery.kind}): held, destination paused")
                continue
            if attempt.outcome == DeliveryAttempt.Outcome.SUCCESS:
                report.delivered += 1
                state = "delivered"
            elif delivery.status == Delivery.Status.DEAD:
                report.dead += 1
                state = "dead"
            else:
                report.failed += 1
                state = "will retry"
            say(
                f"delivery {delivery.pk} ({delivery.event_type} → {delivery.kind}) try {attempt.number}: "
                f"{state} [{attempt.response_code or '-'}] {attempt.duration_ms} ms {attempt.error}".rstrip()
            )
    return report
