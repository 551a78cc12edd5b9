"""Concurrency on PostgreSQL: two threads on their own connections, released together."""

import threading

import pytest
from django.db import connection

from accounts.models import User
from lms import services
from lms.models import Enrolment, ExternalLearner
from tests.factories import CourseFactory
from tests.lms.factories import OrganisationFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_one_new_learner_at_once_make_one_learner_and_one_enrolment():
    organisation, course = OrganisationFactory(), CourseFactory()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sync():
        try:
            barrier.wait()
            results.append(
                services.enrolment_sync(
                    organisation=organisation, external_id="emp-9", email="race@example.org",
                    full_name="Race Learner", course_slug=course.slug,
                )[1]
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, True]  # one created, the other found it
    assert (User.objects.count(), ExternalLearner.objects.count(), Enrolment.objects.count()) == (1, 1, 1)


def _together(*calls):
    """Run each call in its own thread and connection, released together; returns (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:  # surfaced by the caller
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_an_existing_account_at_once_make_one_link_request():
    from lms.models import LinkRequest
    from tests.factories import UserFactory

    organisation, course = OrganisationFactory(), CourseFactory()
    UserFactory(email="held@example.org")

    def sync():
        return services.enrolment_request(
            organisation=organisation, external_id="emp-9", email="held@example.org",
            full_name="X", course_slug=course.slug,
        ).created

    results, errors = _together(sync, sync)
    assert errors == []
    assert sorted(results) == [False, True]
    assert LinkRequest.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_confirm_racing_a_resync_links_once():
    from lms.models import LinkRequest
    from tests.factories import UserFactory

    organisation, course = OrganisationFactory(), CourseFactory()
    user = UserFactory(email="held@example.org")
    kwargs = {"organisation": organisation, "external_id": "emp-9", "email": "held@example.org",
              "full_name": "X", "course_slug": course.slug}
    link = services.enrolment_request(**kwargs).link
    results, errors = _together(
        lambda: services.link_request_decide(learner=user, link_id=link.pk, confirm=True).status,
        lambda: services.enrolment_request(**kwargs).link is None,
    )
    assert errors == []
    assert LinkRequest.objects.get().status == "confirmed"
    assert (ExternalLearner.objects.filter(user=user).count(), Enrolment.objects.count()) == (1, 1)
