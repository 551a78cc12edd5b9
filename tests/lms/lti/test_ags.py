"""Grade passback: a post-test result reaches the real platform's line item
(lti1p3platform validates our client assertion and bearer token)."""

import json
from decimal import Decimal
from http import HTTPStatus

import pytest

from lms.lti import ags
from lms.lti.models import ResourceLinkLearner
from quizzes import services as quiz_services
from quizzes.grading import Answer
from quizzes.models import Attempt
from tests.quizzes.factories import key_of, quiz_with_items


def _sit(learner, quiz, *, right: int):
    attempt = quiz_services.attempt_start(learner=learner, quiz=quiz)
    key = key_of(attempt)
    answers = []
    for index, entry in enumerate(attempt.layout):
        options = key[entry["version"]]["correct"] if index < right else {min(key[entry["version"]]["wrong"])}
        answers.append(Answer(entry["version"], frozenset(options)))
    return quiz_services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)


@pytest.fixture
def posttest(db):
    return quiz_with_items(4)


@pytest.fixture
def launched(launch, posttest):
    """A learner launched the course's placement; returns their account."""
    response = launch(sub="lms-user-7", custom={"course": posttest.course.slug})
    assert response.status_code == HTTPStatus.FOUND
    return ResourceLinkLearner.objects.select_related("lti_user__user").get().lti_user.user


def test_score_timestamp_keeps_sub_second_precision_on_a_whole_second():
    import datetime as dt

    attempt = Attempt(score=Decimal("80.00"), passed=True,
                      submitted_at=dt.datetime(2026, 11, 25, 14, 0, 0, tzinfo=dt.UTC))

    message = ags.score_message(attempt=attempt, user_id="u1")

    assert message["timestamp"] == "2026-11-25T14:00:00.000000+00:00"
    assert (message["scoreGiven"], message["activityProgress"]) == (80.0, "Completed")


def _event(attempt):
    from curriculum.models import LearnerEvent

    return LearnerEvent.objects.get(object_ref=f"quizzes.attempt:{attempt.pk}")


@pytest.mark.django_db(transaction=True)
def test_passed_post_test_score_reaches_the_platform_line_item(platform, launched, posttest):
    attempt = _sit(launched, posttest, right=4)
    event = _event(attempt)
    [destination] = ags.grade_destinations_list(event=event)

    result = ags.deliver_grade(event=event, destination_id=destination.pk)

    assert result.ok, result.error
    assert result.response_code == HTTPStatus.OK
    [received] = platform.gradebook["1"]
    assert received == {
        "userId": "lms-user-7",
        "scoreGiven": 100.0,
        "scoreMaximum": 100,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": attempt.submitted_at.isoformat(timespec="microseconds"),
    }
    assert platform.score_requests[0]["content_type"] == "application/vnd.ims.lis.v1.score+json"
    [token_request] = platform.token_requests
    assert token_request["grant_type"] == "client_credentials"
    assert token_request["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in token_request["scope"].split()
    print("AGS score as the platform received it:", json.dumps(received, indent=2))


@pytest.mark.django_db(transaction=True)
def test_failed_post_test_is_sent_as_submitted_with_its_score(platform, launched, posttest):
    attempt = _sit(launched, posttest, right=1)
    event = _event(attempt)
    [destination] = ags.grade_destinations_list(event=event)

    assert ags.deliver_grade(event=event, destination_id=destination.pk).ok

    [received] = platform.gradebook["1"]
    assert (received["scoreGiven"], received["activityProgress"]) == (25.0, "Submitted")


@pytest.mark.django_db(transaction=True)
def test_platform_down_is_a_failed_try_not_an_exception(platform, launched, posttest):
    attempt = _sit(launched, posttest, right=4)
    event = _event(attempt)
    [destination] = ags.grade_destinations_list(event=event)
    platform.down = True

    result = ags.deliver_grade(event=event, destination_id=destination.pk)

    assert (result.ok, result.response_code) == (False, HTTPStatus.SERVICE_UNAVAILABLE)
    assert platform.gradebook["1"] == []


@pytest.mark.django_db(transaction=True)
def test_a_token_signed_with_a_key_the_platform_does_not_know_is_refused(platform, launched, posttest):
    attempt = _sit(launched, posttest, right=4)
    event = _event(attempt)
    [destination] = ags.grade_destinations_list(event=event)
    platform.trust_tool_keys({"keys": []})

    result = ags.deliver_grade(event=event, destination_id=destination.pk)

    assert (result.ok, result.response_code) == (False, HTTPStatus.UNAUTHORIZED)
    assert platform.gradebook["1"] == []


@pytest.mark.django_db
def test_only_placements_of_the_post_test_course_are_graded(launch, posttest, other_learner):
    launch(sub="lms-user-7", custom={"course": posttest.course.slug})
    learner = ResourceLinkLearner.objects.get().lti_user.user

    mine = _event(_sit(learner, posttest, right=4))
    theirs = _event(_sit(other_learner, posttest, right=4))

    assert len(ags.grade_destinations_list(event=mine)) == 1
    assert ags.grade_destinations_list(event=theirs) == []


@pytest.mark.django_db
def test_a_lesson_placement_is_not_graded_by_the_post_test(launch, posttest):
    lesson = posttest.course.lessons.get()
    launch(sub="lms-user-7", custom={"course": posttest.course.slug, "lesson": lesson.slug})
    learner = ResourceLinkLearner.objects.get().lti_user.user

    event = _event(_sit(learner, posttest, right=4))

    assert ags.grade_destinations_list(event=event) == []


@pytest.mark.django_db
@pytest.mark.parametrize("n_events", [1, 5])
def test_fan_out_lookup_is_two_queries_whatever_the_batch(launch, django_assert_num_queries, n_events):
    from tests.factories import UserFactory

    quizzes = [quiz_with_items(2) for _ in range(n_events)]
    for index, quiz in enumerate(quizzes):
        launch(sub=f"lms-user-{index}", custom={"course": quiz.course.slug}, link_id=f"rl-{index}",
               email=f"u{index}@lms.example")
    events = [_event(_sit(link.lti_user.user, quiz, right=2))
              for link, quiz in zip(ResourceLinkLearner.objects.order_by("pk"), quizzes, strict=True)]
    events.append(_event(_sit(UserFactory(), quizzes[0], right=2)))  # no placement: no destination

    with django_assert_num_queries(2):
        destinations = ags.grade_destinations_map(events=events)

    assert sorted(destinations) == sorted(e.pk for e in events[:-1])
