"""Grade passback through the real outbox worker (lms/outbox.py): the post-test
score reaches the platform once, after an outage too; a gone column is a dead letter."""

from http import HTTPStatus

import pytest
from django.utils import timezone

from lms import outbox
from lms.lti.models import LineItem, ResourceLinkLearner
from lms.models import Delivery, DeliveryAttempt
from tests.lms.lti.test_ags import _sit
from tests.quizzes.factories import quiz_with_items


@pytest.fixture
def posttest(db):
    return quiz_with_items(4)


@pytest.fixture
def learner_of_the_placement(launch, posttest):
    assert launch(sub="lms-user-7", custom={"course": posttest.course.slug}).status_code == HTTPStatus.FOUND
    return ResourceLinkLearner.objects.select_related("lti_user__user").get().lti_user.user


@pytest.mark.django_db(transaction=True)
def test_outbox_delivers_the_passed_post_test_to_the_gradebook_once(platform, learner_of_the_placement, posttest):
    attempt = _sit(learner_of_the_placement, posttest, right=3)

    report = outbox.outbox_run_once(worker="w1")
    again = outbox.outbox_run_once(worker="w1")

    assert (report.delivered, again.delivered) == (1, 0)
    delivery = Delivery.objects.get(kind="lti_ags")
    assert (delivery.status, delivery.event_type) == ("delivered", "lti.posttest_passed")
    assert DeliveryAttempt.objects.get(delivery=delivery).response_code == HTTPStatus.OK
    [score] = platform.gradebook["1"]
    assert (score["userId"], score["scoreGiven"], score["activityProgress"]) == ("lms-user-7", 75.0, "Completed")
    assert score["timestamp"] == attempt.submitted_at.isoformat(timespec="microseconds")


@pytest.mark.django_db(transaction=True)
def test_a_platform_outage_is_retried_and_the_score_arrives_once(platform, learner_of_the_placement, posttest):
    _sit(learner_of_the_placement, posttest, right=4)
    platform.down = True

    down = outbox.outbox_run_once(worker="w1")
    platform.down = False
    Delivery.objects.update(next_attempt_at=timezone.now())  # the backoff has passed
    up = outbox.outbox_run_once(worker="w1")

    assert (down.failed, up.delivered) == (1, 1)
    assert len(platform.gradebook["1"]) == 1
    assert list(DeliveryAttempt.objects.order_by("number").values_list("response_code", flat=True)) == [503, 200]


@pytest.mark.django_db(transaction=True)
def test_a_deleted_gradebook_column_is_a_dead_letter_at_once(platform, learner_of_the_placement, posttest):
    LineItem.objects.update(url=f"{platform.base}/lineitems/404")
    _sit(learner_of_the_placement, posttest, right=4)

    report = outbox.outbox_run_once(worker="w1")

    assert report.dead == 1
    assert Delivery.objects.get().status == "dead"


@pytest.mark.django_db(transaction=True)
def test_a_placement_first_launched_after_the_post_test_still_gets_the_score(
    platform, launch, learner_of_the_placement, posttest
):
    attempt = _sit(learner_of_the_placement, posttest, right=4)
    outbox.outbox_run_once(worker="w1")  # placement 1's column gets it at once

    launch(sub="lms-user-7", custom={"course": posttest.course.slug, "quiz": "posttest"}, link_id="rl-2",
           lineitem="2")
    launch(sub="lms-user-7", custom={"course": posttest.course.slug, "quiz": "posttest"}, link_id="rl-2",
           lineitem="2")  # a relaunch adds nothing
    report = outbox.outbox_run_once(worker="w1")

    assert report.delivered == 1
    assert Delivery.objects.get(event_type="lti.posttest_sync").status == "delivered"
    [first] = platform.gradebook["1"]
    [synced] = platform.gradebook["2"]
    assert synced == first
    assert synced["timestamp"] == attempt.submitted_at.isoformat(timespec="microseconds")
