"""Exactly-once under real concurrency (PostgreSQL only: SQLite serialises writers,
and inside a test transaction select_for_update proves nothing)."""

import threading

import pytest
from django.db import close_old_connections, connection

from credits import services
from credits.models import AuditLog, Certificate, Claim
from curriculum.models import LearnerEvent
from tests.credits.factories import activity_with_course, claim_input, everything_complete
from tests.factories import UserFactory


def _race(work, n: int = 2) -> list:
    """Run work() in n threads released together; return each result or exception."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except Exception as exc:  # noqa: BLE001  (the test inspects what each thread got)
            results[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_create_one():
    learner = UserFactory()
    activity = activity_with_course()
    everything_complete(learner, activity)

    results = _race(lambda: services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input()))

    assert sum(isinstance(r, Certificate) for r in results) == 1
    assert sum(isinstance(r, services.ClaimRefused) for r in results) == 1
    assert Claim.objects.count() == 1
    assert Certificate.objects.count() == 1
    assert LearnerEvent.objects.filter(verb="credit_claimed").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_by_different_learners_keep_one_audit_chain():
    activity = activity_with_course()
    learners = [UserFactory() for _ in range(4)]
    for learner in learners:
        everything_complete(learner, activity)
    pending = iter(learners)
    lock = threading.Lock()

    def claim():
        with lock:
            learner = next(pending)
        return services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input())

    results = _race(claim, n=4)

    assert all(isinstance(r, Certificate) for r in results)
    assert services.audit_verify().ok
    assert AuditLog.objects.filter(action="certificate.issued").count() == 4
