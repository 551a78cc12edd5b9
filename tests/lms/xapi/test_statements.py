"""Statements built from real rows: every verb, valid by the spec's rules, stable ids."""

import datetime as dt
import uuid

import pytest

from lms.xapi import delivery, statements
from lms.xapi.models import LrsEndpoint
from lms.xapi.validate import statement_problems
from tests.factories import UserFactory
from tests.lms.factories import ExternalLearnerFactory, OrganisationFactory
from tests.lms.xapi.conftest import journey_make

ADL = "http://adlnet.gov/expapi/verbs/"


def _all_statements(journey):
    return [
        s
        for event in journey.events
        if statements.has_statements(event)
        for s in delivery.event_statements(event=event, endpoint=journey.endpoint)
    ]


@pytest.mark.django_db
def test_every_verb_is_built_from_the_journey_and_is_valid(journey):
    """Lessons experienced and completed, a question answered, the post-test failed
    then passed, the course completed and credit earned: all valid xAPI 1.0.3."""
    built = _all_statements(journey)
    assert {s["verb"]["id"] for s in built} == {
        ADL + "experienced", ADL + "completed", ADL + "answered", ADL + "passed", ADL + "failed",
        "http://id.tincanapi.com/verb/earned",
    }
    assert {s["id"]: statement_problems(s) for s in built} == {s["id"]: [] for s in built}
    assert len({s["id"] for s in built}) == len(built)


@pytest.mark.django_db
def test_lesson_completed_names_course_as_parent_and_reports_time(journey):
    event = journey.event("completed", "curriculum.lessonprogress")
    [statement] = delivery.event_statements(event=event, endpoint=journey.endpoint)
    course = journey.activity.course
    assert statement["actor"] == {
        "objectType": "Agent", "account": {"homePage": "https://lms.hospital.example.org", "name": "emp-0042"},
    }
    assert statement["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson"
    assert statement["object"]["id"].startswith(f"http://localhost:8000/courses/{course.slug}/lessons/")
    assert statement["context"]["contextActivities"] == {"parent": [{
        "objectType": "Activity", "id": f"http://localhost:8000/courses/{course.slug}/",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    }]}
    assert statement["context"]["revision"] == "v1"
    # 754 s, or 755 if a second ticked over between signing the token and completing.
    assert statement["result"] in ({"completion": True, "duration": "PT12M34S"},
                                   {"completion": True, "duration": "PT12M35S"})


@pytest.mark.django_db
def test_assessment_statements_carry_score_success_and_duration(journey):
    failed = journey.event("failed", "quizzes.attempt")
    passed = journey.event("passed", "quizzes.attempt")
    [fail] = delivery.event_statements(event=failed, endpoint=journey.endpoint)
    [ok] = delivery.event_statements(event=passed, endpoint=journey.endpoint)
    assert fail["result"]["score"] == {"scaled": 0.0, "raw": 0, "min": 0, "max": 2}
    assert fail["result"]["success"] is False
    assert ok["result"]["score"] == {"scaled": 1.0, "raw": 2, "min": 0, "max": 2}
    assert ok["result"]["success"] is True and ok["result"]["completion"] is True
    assert ok["result"]["duration"].startswith("PT")
    assert ok["object"]["id"] == fail["object"]["id"]  # the same assessment, two attempts
    assert ok["id"] != fail["id"]
    assert list(ok["context"]["extensions"].values()) == [2]  # attempt number


@pytest.mark.django_db
def test_answered_question_reports_choice_and_success_but_never_the_key(journey):
    event = journey.event("answered", "quizzes.response", n=-1)  # the passed attempt's last question
    [statement] = delivery.event_statements(event=event, endpoint=journey.endpoint)
    definition = statement["object"]["definition"]
    assert definition["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    assert definition["interactionType"] == "choice"
    assert "correctResponsesPattern" not in definition
    assert "RATIONALE" not in str(statement)
    assert all(set(c) == {"id", "description"} for c in definition["choices"])
    assert statement["result"]["success"] is True
    assert statement["result"]["response"] in {c["id"] for c in definition["choices"]}
    parents = statement["context"]["contextActivities"]
    assert parents["parent"][0]["definition"]["type"] == "http://adlnet.gov/expapi/activities/assessment"
    assert {a["definition"]["type"] for a in parents["grouping"]} == {
        "http://adlnet.gov/expapi/activities/course", "http://adlnet.gov/expapi/activities/lesson",
    }
    assert statement_problems(statement) == []


@pytest.mark.django_db
def test_grading_records_one_answered_event_per_question_with_its_verdict(journey):
    """Two attempts of two questions: four events, wrong in the failed one, right in the passed one."""
    from quizzes.models import Response

    answered = [e for e in journey.events if e.verb == "answered"]
    responses = Response.objects.filter(attempt__learner=journey.learner).order_by("attempt__number", "position")
    assert [e.object_ref for e in answered] == [f"quizzes.response:{r.pk}" for r in responses]
    verdicts = [delivery.event_statements(event=e, endpoint=journey.endpoint)[0]["result"]["success"]
                for e in answered]
    assert verdicts == [False, False, True, True]
    parents = {delivery.event_statements(event=e, endpoint=journey.endpoint)[0]["context"]["contextActivities"]
               ["parent"][0]["id"] for e in answered}
    assert len(parents) == 1  # both attempts: the same assessment activity


@pytest.mark.django_db
def test_claim_gives_course_completed_and_credit_earned(journey):
    event = journey.event("credit_claimed", "credits.claim")
    completed, earned = delivery.event_statements(event=event, endpoint=journey.endpoint)
    assert completed["verb"]["id"] == ADL + "completed"
    assert completed["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert earned["verb"]["display"] == {"en-US": "earned"}
    assert earned["result"]["extensions"]["http://localhost:8000/xapi/extensions/credit-hours"] == 1.5
    assert earned["context"]["contextActivities"]["parent"][0]["id"] == completed["object"]["id"]


@pytest.mark.django_db
def test_certificate_issued_has_no_statement(journey):
    event = next(e for e in journey.events if e.verb == "certificate_issued")
    assert not statements.has_statements(event)


@pytest.mark.django_db
def test_statement_ids_are_uuid5_of_verb_and_object_and_stable(journey):
    first = [s["id"] for s in _all_statements(journey)]
    again = [s["id"] for s in _all_statements(journey)]
    event = journey.event("experienced", "curriculum.lessonprogress")
    assert first == again
    assert first[0] == str(uuid.uuid5(statements.NAMESPACE, ADL + "experienced|" + event.object_ref))
    assert uuid.UUID(first[0]).version == 5


@pytest.mark.django_db
def test_actor_is_the_email_only_when_the_organisation_configured_it():
    by_email = journey_make(identify_by_email=True)
    event = by_email.event("experienced", "curriculum.lessonprogress")
    [statement] = delivery.event_statements(event=event, endpoint=by_email.endpoint)
    assert statement["actor"] == {"objectType": "Agent", "mbox": f"mailto:{by_email.learner.email}"}
    assert statement_problems(statement) == []


@pytest.mark.django_db
def test_no_email_or_name_leaves_by_default(journey):
    text = str(_all_statements(journey))
    assert journey.learner.email not in text
    assert journey.learner.full_name not in text


@pytest.mark.django_db
@pytest.mark.parametrize(("verb", "model", "queries"), [
    ("completed", "curriculum.lessonprogress", 3),  # identity, progress with lesson and course, versions
    ("answered", "quizzes.response", 4),  # identity, response with joins, options, chosen
    ("passed", "quizzes.attempt", 2),  # identity, attempt with quiz and course
    ("credit_claimed", "credits.claim", 3),  # identity, claim with course, certificates
])
def test_building_runs_a_fixed_number_of_queries(journey, django_assert_num_queries, verb, model, queries):
    event = journey.event(verb, model)
    with django_assert_num_queries(queries):
        delivery.event_statements(event=event, endpoint=journey.endpoint)


@pytest.mark.django_db
def test_destinations_are_active_endpoints_of_organisations_knowing_the_learner(journey):
    other_org = OrganisationFactory()
    LrsEndpoint.objects.create(organisation=other_org, url="http://127.0.0.1:9/xAPI/", key="k", secret="s",
                               actor_home_page="https://other.example.org")
    stranger = UserFactory()
    ExternalLearnerFactory(organisation=other_org, user=stranger)
    pairs = delivery.lrs_destinations(events=journey.events)
    assert {endpoint.pk for _event, endpoint in pairs} == {journey.endpoint.pk}
    assert [e.pk for e, _ in pairs] == [e.pk for e in journey.events if statements.has_statements(e)]


@pytest.mark.django_db
def test_an_endpoint_set_up_later_does_not_get_earlier_events(journey):
    LrsEndpoint.objects.filter(pk=journey.endpoint.pk).update(created_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    assert delivery.lrs_destinations(events=journey.events) == []


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "PT0S"), (754, "PT12M34S"), (3600, "PT1H"), (3725.5, "PT1H2M5.5S"), (59.999, "PT1M"),
])
def test_duration_is_iso_8601(seconds, expected):
    assert statements.duration(seconds) == expected


def test_timestamp_is_utc_with_zone_and_milliseconds():
    at = dt.datetime(2026, 11, 25, 9, 30, 1, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert statements.timestamp(at) == "2026-11-25T14:30:01.123Z"
    with pytest.raises(ValueError):
        statements.timestamp(dt.datetime(2026, 11, 25, 9, 30))  # noqa: DTZ001


@pytest.mark.django_db
def test_activity_iris_live_under_the_configured_base(journey, settings):
    settings.LMS_XAPI_ACTIVITY_BASE = "https://ce.example.org/"
    event = journey.event("experienced", "curriculum.lessonprogress")
    [statement] = delivery.event_statements(event=event, endpoint=journey.endpoint)
    assert statement["object"]["id"].startswith(f"https://ce.example.org/courses/{journey.activity.course.slug}/")


@pytest.mark.django_db
def test_statements_rebuilt_after_content_edits_are_unchanged(journey):
    """A retry rebuilds the statements; edits since the event must not change them
    (the LRS would answer 409): the lesson's version seen, the certificate's title."""
    from curriculum.models import Lesson, LessonVersion

    before = _all_statements(journey)
    course = journey.activity.course
    course.title = "Renamed course"
    course.save()
    for lesson in Lesson.objects.filter(course=course):
        old = lesson.current_version
        new = LessonVersion.objects.create(
            lesson=lesson, number=old.number + 1, title="Renamed lesson", estimated_minutes=10,
            last_reviewed=old.last_reviewed, objectives=old.objectives, references=old.references,
            source=old.source, body_html=old.body_html, toc_html=old.toc_html, content_hash="changed",
        )
        Lesson.objects.filter(pk=lesson.pk).update(current_version=new)
    assert _all_statements(journey) == before
