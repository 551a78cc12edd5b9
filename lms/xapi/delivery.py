"""The outbox's xAPI destination: which LRSs hear of an event, and sending it.

`lms/outbox.py` owns the queue (claiming, retries, dead letters); apps.py
registers this destination with it. At fan-out it asks `outbox_fanout()`
which active `LrsEndpoint`s want each new event, and it calls `outbox_send()`
(`deliver_to_lrs()`) once per claimed delivery, outside any transaction. The statements are built here at delivery time, from the rows as
they are then (STYLE: payloads are built at delivery).

An event may give two statements (a claim: course completed, credit earned).
They are sent in order and the first failure ends the try; the retry sends
them all again, which is harmless: each has a stable id, and the LRS answers
an identical resend with 204 (or 409, which the client checks) and stores one.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db.models import Q

from credits.models import Claim
from curriculum.models import LearnerEvent, LessonProgress
from lms.models import ExternalLearner
from lms.xapi import statements
from lms.xapi.client import DeliveryResult, Lrs, statement_put
from lms.xapi.models import LrsEndpoint
from quizzes.models import Attempt, Response

KIND = "xapi"  # the outbox's destination kind (Delivery.kind)


def activity_base() -> str:
    """Where our activity IRIs live. Must not change once statements are sent:
    an LRS knows an activity only by its IRI."""
    base = getattr(settings, "LMS_XAPI_ACTIVITY_BASE", "") or getattr(settings, "CREDITS_PUBLIC_URL", "")
    return (base or "http://localhost:8000").rstrip("/")


def event_object_get(event: LearnerEvent):
    """The event's object with everything its statements read. Two queries
    (three for an answered question: the item's options and the chosen ones).

    Raises the model's DoesNotExist, or KeyError for an event with no statements.
    """
    model, pk = statements.event_model(event), statements.event_object_pk(event)
    querysets = {
        "curriculum.lessonprogress": lambda: LessonProgress.objects.select_related(
            "lesson__course", "lesson__current_version", "completed_version"
        ).prefetch_related("lesson__versions"),
        "quizzes.response": lambda: Response.objects.select_related(
            "item_version__item__course",
            "item_version__lesson__course",
            "item_version__lesson__current_version",
            "attempt__quiz__course",
            "attempt__quiz__lesson",
        ).prefetch_related("item_version__options", "chosen"),
        "quizzes.attempt": lambda: Attempt.objects.select_related("quiz__course", "quiz__lesson"),
        "credits.claim": lambda: Claim.objects.select_related("activity__course").prefetch_related("certificates"),
    }
    return querysets[model]().get(pk=pk)


def actor_for(*, endpoint: LrsEndpoint, event: LearnerEvent) -> dict:
    """The learner as this organisation's LRS must see them. One query.

    Raises ExternalLearner.DoesNotExist if the organisation does not know the
    learner (fan-out never makes such a delivery).
    """
    if endpoint.identify_by_email:
        return statements.actor_mbox(email=event.learner.email)
    identity = ExternalLearner.objects.only("external_id").get(
        organisation_id=endpoint.organisation_id, user_id=event.learner_id
    )
    return statements.actor_account(home_page=endpoint.actor_home_page, name=identity.external_id)


def event_statements(*, event: LearnerEvent, endpoint: LrsEndpoint) -> list[dict]:
    """The statements reporting `event` to `endpoint`'s LRS. Two to four queries."""
    ctx = statements.Context(base=activity_base(), actor=actor_for(endpoint=endpoint, event=event))
    return statements.statements_build(event, event_object_get(event), ctx)


def lrs_of(endpoint: LrsEndpoint) -> Lrs:
    return Lrs(url=endpoint.url, key=endpoint.key, secret=endpoint.secret,
               timeout=settings.LMS_OUTBOX_TIMEOUT_SECONDS)


def deliver_to_lrs(*, event: LearnerEvent, endpoint: LrsEndpoint) -> DeliveryResult:
    """Send every statement of `event` to the endpoint's LRS; the outbox's xAPI sender.

    Call it outside any transaction. Never raises for a failed send; raises
    (and the outbox logs a failed try) only if the statements cannot be built.
    An event kind with no statements is delivered at once with nothing sent.
    """
    if not statements.has_statements(event):
        return DeliveryResult(ok=True, error="no xAPI statement for this event")
    lrs = lrs_of(endpoint)
    result = DeliveryResult(ok=True)
    for statement in event_statements(event=event, endpoint=endpoint):
        result = statement_put(lrs, statement)
        if not result.ok:
            return result
    return result


def lrs_destinations(*, events: list[LearnerEvent]) -> list[tuple[LearnerEvent, LrsEndpoint]]:
    """For fan-out: each (event, endpoint) that must be sent. Two queries per batch.

    An endpoint hears of events with statements about learners its
    organisation knows, that happened after the endpoint was set up (so a new
    LRS is not flooded with history; a backfill is a separate, deliberate step).
    A paused endpoint still gets its deliveries, which the outbox holds until
    it is resumed; a retired (inactive) one, or one of a switched-off
    organisation, gets none (those already queued are held).
    """
    wanted = [e for e in events if statements.has_statements(e)]
    if not wanted:
        return []
    endpoints = {
        e.organisation_id: e
        for e in LrsEndpoint.objects.filter(is_active=True, organisation__is_active=True)
    }
    orgs_of: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in ExternalLearner.objects.filter(
        user_id__in={e.learner_id for e in wanted}, organisation_id__in=endpoints
    ).values_list("user_id", "organisation_id"):
        orgs_of[user_id].add(org_id)
    return [
        (event, endpoints[org_id])
        for event in wanted
        for org_id in sorted(orgs_of[event.learner_id])
        if event.occurred_at >= endpoints[org_id].created_at
    ]


# --- the outbox's hooks (registered in lms/xapi/apps.py) ---------------------------------


def outbox_fanout(events: list[LearnerEvent]) -> list[tuple[LearnerEvent, int, str]]:
    """Fan-out for `lms.outbox.destination_register`: (event, LrsEndpoint id, event type)
    for each delivery to create. Two queries per batch. The outbox makes the
    rows unique per (event, kind, endpoint), so a re-run adds nothing."""
    return [(event, endpoint.pk, f"xapi.{event.verb}") for event, endpoint in lrs_destinations(events=events)]


def paused_endpoints():
    """Paused for `lms.outbox.destination_register`: the endpoints whose deliveries
    wait (paused, retired, or of a switched-off organisation), as a subquery."""
    return LrsEndpoint.objects.filter(
        Q(paused_at__isnull=False) | Q(is_active=False) | Q(organisation__is_active=False)
    ).values("pk")


def outbox_send(delivery) -> DeliveryResult:
    """Send for `lms.outbox.destination_register`: one claimed delivery of kind "xapi".

    Reads `delivery.event_id` and `delivery.destination_id` (an LrsEndpoint).
    The result's `retryable` False (bad statement or credentials, a conflicting
    id) tells the outbox that resending cannot help: the delivery is dead at once.
    An endpoint paused since the claim sends nothing: `held` gives the claim
    back to the outbox with no try logged. Three to six queries.
    """
    event = LearnerEvent.objects.select_related("learner").get(pk=delivery.event_id)
    endpoint = LrsEndpoint.objects.select_related("organisation").get(pk=delivery.destination_id)
    if endpoint.is_paused or not (endpoint.is_active and endpoint.organisation.is_active):
        return DeliveryResult(ok=False, held=True, error="LRS endpoint or organisation is paused")
    return deliver_to_lrs(event=event, endpoint=endpoint)
