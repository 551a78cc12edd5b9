"""Fixtures for the credit tests: an activity with its course, and a learner who completed it."""

import pytest

from tests.credits.factories import activity_with_course, everything_complete


@pytest.fixture
def activity(db):
    return activity_with_course()


@pytest.fixture
def completed(activity, learner):
    """The activity, with every completion rule met by `learner`."""
    everything_complete(learner, activity)
    return activity
