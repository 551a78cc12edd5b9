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
