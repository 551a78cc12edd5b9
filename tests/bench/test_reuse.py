"""`make bench --reuse` measures what a fresh run measures: the writes it makes are not made twice.

A second run on the same database used to submit the attempts the first had submitted (a
repeat submit grades nothing and is cheap, so it flattered the numbers) and to send the
journey through accounts that had used their post-test attempts (every one a 409 error).
"""

import pytest

from bench.run import journey_emails_unused, submitters_open
from quizzes import services
from tests.factories import UserFactory
from tests.quizzes.factories import quiz_with_items


@pytest.mark.django_db
def test_reuse_submits_only_attempts_still_open_in_their_order():
    quiz = quiz_with_items(2, attempt_limit=None, wait_minutes=0)
    learners = [UserFactory() for _ in range(4)]
    attempts = [services.attempt_start(learner=learner, quiz=quiz) for learner in learners]
    for learner, attempt in zip(learners[1::2], attempts[1::2], strict=True):
        services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=[])
    pairs = [(learner.pk, attempt.pk) for learner, attempt in zip(learners, attempts, strict=True)]
    kept, layouts = submitters_open(pairs)
    assert kept == [pairs[0], pairs[2]]
    assert layouts.keys() == {pairs[0][1], pairs[2][1]}
    assert all(len(layout) == 2 for layout in layouts.values())


@pytest.mark.django_db
def test_reuse_sends_the_journey_only_through_accounts_that_never_started_a_quiz():
    quiz = quiz_with_items(1)
    fresh, used, also_fresh = UserFactory(), UserFactory(), UserFactory()
    services.attempt_start(learner=used, quiz=quiz)
    emails = [fresh.email, used.email, also_fresh.email]
    assert journey_emails_unused(emails) == [fresh.email, also_fresh.email]

