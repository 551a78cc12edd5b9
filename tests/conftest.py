"""Shared fixtures. Settings are config/settings.py with speed-only overrides."""

import os

import pytest

# Playwright's sync API keeps an asyncio loop in the main thread; Django's
# live_server database set-up refuses to run under one without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import UserFactory  # noqa: E402


@pytest.fixture(autouse=True)
def _fast_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_version_cache():
    """Each test's database starts empty and reuses ids (SQLite), so start each test with empty
    per-process caches of lesson and item versions, course pages and answer keys; within a test the caches behave as in production."""
    from curriculum.selectors import lesson_version_get
    from curriculum.views import course_static_parts, version_fragments
    from quizzes.selectors import answer_keys_get, attempt_questions_get

    lesson_version_get.cache_clear()
    version_fragments.cache_clear()
    course_static_parts.cache_clear()
    attempt_questions_get.cache_clear()
    answer_keys_get.cache_clear()


@pytest.fixture(autouse=True)
def _worker_state_reset():
    """Each test's events start again from low ids (SQLite rolls its counters back), so the
    outbox's per-process fan-out floor starts each test at zero, as a new worker does; and
    each test's first export pass expires files, as a new worker's does."""
    from lms.exports.services import HOUSEKEEPING_CLOCK
    from lms.outbox import FANOUT_FLOOR

    FANOUT_FLOOR.reset()
    HOUSEKEEPING_CLOCK.reset()  # likewise: each test's worker expires export files on its first pass


@pytest.fixture(autouse=True)
def _fresh_limit_counters():
    """Each test starts with the per-process limit counters (API throttles, password reset and
    sign-up limits: the "default" cache without LMS_CACHE_URL) empty, as a new worker does, so one
    test's requests never count against another's."""
    from django.core.cache import caches

    caches["default"].clear()


@pytest.fixture
def learner(db):
    return UserFactory()


@pytest.fixture
def other_learner(db):
    return UserFactory()


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


@pytest.fixture
def author_client(client, db):
    """A superuser's client, as the admin tests' course author."""
    from accounts.models import User

    client.force_login(User.objects.create_superuser("author@example.org", "pw-author-123", full_name="Author"))
    return client


def pytest_collection_modifyitems(config, items):
    """Volume tests first; skip PostgreSQL-only tests on SQLite, except in CI, where a skip is a failure.

    A volume test compares the rows PostgreSQL reads for the same query at two data sizes, so
    the plans must be those a production database gets. On a test database that has run the
    other tests, autovacuum has analysed tables of a few rows, and with such statistics the
    planner picks whole-index reads that it never would at volume (one run read every
    learner's progress of a lesson for the lesson page). First, the tables are as migrated.
    """
    from django.db import connection

    items[:] = [i for i in items if "volume" in i.keywords] + [i for i in items if "volume" not in i.keywords]
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
