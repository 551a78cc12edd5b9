"""config/postgresql/base.py reads timestamptz with psycopg's own loader, and the values are
exactly those Django's loader gives. PostgreSQL only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from psycopg import pq
from psycopg.postgres import types

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TIMESTAMPTZ = types["timestamptz"].oid

# Whole seconds and microseconds, an offset other than UTC, a date before 1970
# and one after 2038, the day a daylight-saving change starts in Europe.
SQL = """
    SELECT '2026-11-26 02:09:39.926960+00'::timestamptz, '2026-03-01 09:00:00+00'::timestamptz,
           '2026-03-29 01:30:00.5+02'::timestamptz, '1969-07-20 20:17:40-05'::timestamptz,
           '2099-12-31 23:59:59.999999+00'::timestamptz, now()
"""


def test_timestamps_load_through_psycopgs_loader_as_django_would_load_them():
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    from config.postgresql.base import UtcTimestamptzLoader

    connection.ensure_connection()
    assert connection.connection.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT) is UtcTimestamptzLoader
    with connection.cursor() as cursor:
        # Django's create_cursor would give the cursor its own loader if the time zones differed.
        assert cursor.cursor.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT) is UtcTimestamptzLoader
        cursor.execute(SQL)
        ours = cursor.fetchone()
    djangos = connection.connection.cursor()
    register_tzloader(connection.timezone, djangos)  # what Django registers without this backend
    assert djangos.adapters.get_loader(TIMESTAMPTZ, pq.Format.TEXT) is not UtcTimestamptzLoader
    expected = djangos.execute(SQL).fetchone()
    assert ours == expected
    assert [value.isoformat() for value in ours] == [value.isoformat() for value in expected]
    assert all(value.tzinfo == dt.UTC for value in ours)
    assert ours[2] == dt.datetime(2026, 3, 28, 23, 30, 0, 500000, tzinfo=dt.UTC)


def test_a_model_round_trip_keeps_the_instant():
    from curriculum.models import LessonProgress
    from tests.factories import LessonFactory, UserFactory

    when = dt.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    progress = LessonProgress.objects.create(
        learner=UserFactory(), lesson=LessonFactory(), first_opened_at=when, last_opened_at=when
    )
    loaded = LessonProgress.objects.get(pk=progress.pk)
    assert loaded.first_opened_at == when and loaded.first_opened_at.tzinfo == dt.UTC
    assert loaded.updated_at == when  # the generated column, read back through the same loader
