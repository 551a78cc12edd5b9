"""Assignment and Grade Services: a post-test result to the platforms' gradebooks.

The outbox (lms/outbox.py) delivers grades through its destination registry
(`destination_register(kind="lti_ags", ...)` in lms/lti/apps.py), calling
`outbox_fanout` and `outbox_send` below; nothing here runs in a request:

- `grade_destinations_map(events=)`: at fan-out, which placements must
  hear of each post-test "passed"/"failed" event: every resource link of
  that learner (they launched it) that opens the post-test's course or the
  post-test itself and has a gradebook column (`LineItem`).
- `deliver_grade(event=, destination_id=)`: at delivery, outside any
  transaction, builds the AGS score from the attempt as it is now, gets an
  OAuth2 client-credentials token with a client-assertion JWT signed with
  the platform's tool key (pylti1p3's ServiceConnector), and POSTs the score
  to the line item's /scores. Never raises for a failed send.

A resend is harmless: AGS is keyed by (line item, userId) and the score
carries the attempt's `submitted_at` as its `timestamp`, so the platform
keeps the latest attempt whatever order or how often deliveries arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import requests
from django.db import transaction
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem as Pylti1p3LineItem
from pylti1p3.service_connector import ServiceConnector

from curriculum.models import LearnerEvent
from lms.lti.models import ResourceLinkLearner
from lms.lti.services import GRADE_SYNC_VERB
from lms.lti.tool import HttpSession, registration_for
from quizzes.models import Attempt, Quiz

KIND = "lti_ags"
GRADE_VERBS = ("passed", "failed")
ATTEMPT_REF = "quizzes.attempt:"
LINK_LEARNER_REF = "lti.resourcelinklearner:"
SCORE_MAXIMUM = 100  # Attempt.score is a percentage


def _attempt_of(event: LearnerEvent) -> Attempt | None:
    """The graded post-test attempt an event reports, or None if it reports none."""
    if event.verb in GRADE_VERBS and event.object_ref.startswith(ATTEMPT_REF):
        return Attempt.objects.select_related("quiz").get(pk=int(event.object_ref.removeprefix(ATTEMPT_REF)))
    if event.verb == GRADE_SYNC_VERB and event.object_ref.startswith(LINK_LEARNER_REF):
        # A placement launched after the post-test: send the latest result (as the
        # platform would hold it had the placement existed all along).
        course_id = (
            ResourceLinkLearner.objects.filter(pk=int(event.object_ref.removeprefix(LINK_LEARNER_REF)))
            .values_list("resource_link__course_id", flat=True)
            .first()
        )
        return (
            Attempt.objects.select_related("quiz")
            .filter(learner_id=event.learner_id, quiz__course_id=course_id, quiz__kind=Quiz.Kind.POSTTEST,
                    submitted_at__isnull=False)
            .order_by("-submitted_at", "-pk")
            .first()
        )
    return None


def _graded_placements():
    """Link learners whose placement the post-test grades and whose platform takes scores."""
    return ResourceLinkLearner.objects.filter(
        resource_link__lesson__isnull=True,  # a lesson's placement is not graded by the post-test
        resource_link__quiz_kind__in=["", Quiz.Kind.POSTTEST],
        resource_link__line_item__isnull=False,
        resource_link__platform__is_active=True,
    )


def grade_destinations_map(*, events: list[LearnerEvent]) -> dict[int, list[int]]:
    """{event id: [ResourceLinkLearner ids]} for the post-test events among
    `events`: each placement of that learner (they launched it) that opens the
    post-test's course or the post-test itself and has a gradebook column.
    A GRADE_SYNC_VERB event (a placement first launched after the post-test)
    names its one placement. Events with no destination are left out. Three
    queries at most, whatever the batch.
    """
    destinations: dict[int, list[int]] = {}
    sync_of_event = {
        event.pk: int(event.object_ref.removeprefix(LINK_LEARNER_REF))
        for event in events
        if event.verb == GRADE_SYNC_VERB and event.object_ref.startswith(LINK_LEARNER_REF)
    }
    if sync_of_event:
        live = set(_graded_placements().filter(pk__in=set(sync_of_event.values())).values_list("pk", flat=True))
        destinations |= {event_id: [pk] for event_id, pk in sync_of_event.items() if pk in live}
    attempt_of_event = {
        event.pk: int(event.object_ref.removeprefix(ATTEMPT_REF))
        for event in events
        if event.verb in GRADE_VERBS and event.object_ref.startswith(ATTEMPT_REF)
    }
    if not attempt_of_event:
        return destinations
    attempts = {
        pk: (learner_id, course_id)
        for pk, learner_id, course_id in Attempt.objects.filter(
            pk__in=set(attempt_of_event.values()), quiz__kind=Quiz.Kind.POSTTEST
        ).values_list("pk", "learner_id", "quiz__course_id")
    }
    if not attempts:
        return destinations
    placements: dict[tuple[int, int], list[int]] = {}
    for pk, user_id, course_id in (
        _graded_placements()
        .filter(
            lti_user__user_id__in={learner for learner, _ in attempts.values()},
            resource_link__course_id__in={course for _, course in attempts.values()},
        )
        .order_by("pk")
        .values_list("pk", "lti_user__user_id", "resource_link__course_id")
    ):
        placements.setdefault((user_id, course_id), []).append(pk)
    for event_id, attempt_id in attempt_of_event.items():
        if attempt_id in attempts and (found := placements.get(attempts[attempt_id])):
            destinations[event_id] = found
    return destinations


def grade_destinations_list(*, event: LearnerEvent) -> list[ResourceLinkLearner]:
    """The placements whose gradebook must hear of this one event. Three queries at most."""
    ids = grade_destinations_map(events=[event]).get(event.pk, [])
    return list(ResourceLinkLearner.objects.filter(pk__in=ids).order_by("pk")) if ids else []


def score_message(*, attempt: Attempt, user_id: str) -> dict:
    """The AGS score (application/vnd.ims.lis.v1.score+json) for a graded attempt.

    Passed: the activity is Completed. Failed: Submitted (the learner may try
    again). Either way the score is final (FullyGraded).
    """
    assert attempt.submitted_at is not None, "only a graded attempt has a score"
    score = Decimal(attempt.score)
    return {
        "userId": user_id,
        "scoreGiven": float(score),
        "scoreMaximum": SCORE_MAXIMUM,
        "activityProgress": "Completed" if attempt.passed else "Submitted",
        "gradingProgress": "FullyGraded",
        # AGS wants sub-second precision; isoformat() drops the fraction when it is zero.
        "timestamp": attempt.submitted_at.isoformat(timespec="microseconds"),
    }


@dataclass
class GradeResult:
    ok: bool
    response_code: int | None = None
    error: str = ""
    # False: resending cannot help (the column is gone, the request is refused
    # as such), so the outbox marks the delivery dead at once.
    retryable: bool = True
    score: dict = field(default_factory=dict)


# Answers after which a resend of the same score cannot succeed.
_FINAL_REFUSALS = {400, 403, 404, 405, 410, 415, 422}
# 409: the platform already holds a later score for this learner (AGS keeps the
# latest timestamp), so this older one is superseded: done, not failed.
_SUPERSEDED = 409


def _grade(message: dict) -> Grade:
    return (
        Grade()
        .set_user_id(message["userId"])
        .set_score_given(message["scoreGiven"])
        .set_score_maximum(message["scoreMaximum"])
        .set_activity_progress(message["activityProgress"])
        .set_grading_progress(message["gradingProgress"])
        .set_timestamp(message["timestamp"])
    )


def deliver_grade(*, event: LearnerEvent, destination_id: int) -> GradeResult:
    """Send the event's post-test score to one placement's line item.

    Call outside any transaction (two HTTP calls, token and score, each within
    LTI_HTTP_TIMEOUT_SECONDS; two more when only the line items container is
    known and our column must be found). Returns the
    outcome, with the score as sent; never raises for a failed send, so the
    outbox can log it and retry with backoff. Three queries.
    """
    assert not transaction.get_connection().in_atomic_block, "send outside any transaction"
    destination = ResourceLinkLearner.objects.select_related(
        "lti_user", "resource_link__platform", "resource_link__line_item", "resource_link__course"
    ).get(pk=destination_id)
    attempt = _attempt_of(event)
    if attempt is None:
        return GradeResult(ok=False, retryable=False, error=f"not a gradable event: {event.verb} {event.object_ref}")
    link = destination.resource_link
    line_item = link.line_item
    message = score_message(attempt=attempt, user_id=destination.lti_user.sub)
    session = HttpSession()
    codes: list[int] = []  # pylti1p3 returns the body only; the outbox logs the score call's status
    session.hooks["response"].append(lambda response, *args, **kwargs: codes.append(response.status_code))
    connector = ServiceConnector(registration_for(link.platform), session)
    service = AssignmentsGradesService(
        connector, {"scope": line_item.scopes, "lineitem": line_item.url, "lineitems": line_item.lineitems_url}
    )
    column = None
    if not line_item.url:  # only the container: find or create our column in it
        column = (
            Pylti1p3LineItem()
            .set_tag("posttest")
            .set_resource_id(link.course.slug)
            .set_resource_link_id(link.resource_link_id)
            .set_label(f"{link.course.title}: post-test")
            .set_score_maximum(SCORE_MAXIMUM)
        )
    try:
        service.put_grade(_grade(message), column)
    except LtiServiceException as exc:
        code = exc.response.status_code
        if code == _SUPERSEDED:
            return GradeResult(ok=True, response_code=code, error="superseded by a later score", score=message)
        return GradeResult(ok=False, response_code=code, error=str(exc)[:2000],
                           retryable=code not in _FINAL_REFUSALS, score=message)
    except (LtiException, requests.RequestException, ValueError) as exc:
        return GradeResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000], score=message)
    return GradeResult(ok=True, response_code=codes[-1] if codes else None, score=message)


# --- the outbox's hooks (registered in lms/lti/apps.py) -----------------------------------


def outbox_fanout(events: list[LearnerEvent]) -> list[tuple[LearnerEvent, int, str]]:
    """Fan-out for `lms.outbox.destination_register`: (event, ResourceLinkLearner id,
    event type) per delivery to create. Two queries per batch."""
    destinations = grade_destinations_map(events=events)
    return [
        (event, destination_id, "lti.posttest_sync" if event.verb == GRADE_SYNC_VERB else f"lti.posttest_{event.verb}")
        for event in events
        for destination_id in destinations.get(event.pk, [])
    ]


def outbox_send(delivery) -> GradeResult:
    """Send for `lms.outbox.destination_register`: one claimed delivery of kind "lti_ags".

    Reads `delivery.event_id` and `delivery.destination_id` (a ResourceLinkLearner).
    A paused platform sends nothing and is retried later.
    """
    event = LearnerEvent.objects.get(pk=delivery.event_id)
    active = (
        ResourceLinkLearner.objects.filter(pk=delivery.destination_id)
        .values_list("resource_link__platform__is_active", flat=True)
        .first()
    )
    if active is None:
        return GradeResult(ok=False, retryable=False, error="the placement was deleted")
    if not active:
        return GradeResult(ok=False, error="the LTI platform is paused")
    return deliver_grade(event=event, destination_id=delivery.destination_id)
