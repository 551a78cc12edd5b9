"""PostgreSQL's JIT compiler stays off on the app's connections (config/settings.py, issue #8).

At 100,000 learners the feeds' pages, which run in 1-2 ms, were estimated
above `jit_above_cost` (their estimate counts the branch a page skips), and
PostgreSQL spent 28 ms compiling each progress page and 617 ms each
certificate page. These tests make every query "expensive enough" for JIT, as
a large database does, and expect no compilation. PostgreSQL only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from lms.selectors import CertificateFeedQuery, FeedQuery

ROOT = Path(__file__).resolve().parents[2]

_READ_OPTIONS = "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))"


@pytest.mark.parametrize(
    ("url", "jit", "expected"),
    [
        ("postgres://app@db.example.org:5432/ce", None, "-c jit=off"),
        # The URL's own options are kept (dj-database-url puts query parameters in OPTIONS).
        ("postgres://app@db.example.org:5432/ce?options=-c%20statement_timeout%3D5000", None,
         "-c statement_timeout=5000 -c jit=off"),
        ("postgres://app@db.example.org:5432/ce", "true", None),
        ("sqlite:///tmp/ce.sqlite3", None, None),
    ],
)
def test_the_connection_options_carry_jit_off_unless_asked(url, jit, expected):
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DJANGO_DB_JIT", None)
    if jit is not None:
        env["DJANGO_DB_JIT"] = jit
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {_READ_OPTIONS}"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip() == str(expected)


def _jit_compiler_installed() -> bool:
    """Whether this server could compile at all (pg_jit_available is false while jit is off)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        (current,) = cursor.fetchone()
        cursor.execute("SET LOCAL jit = on")
        cursor.execute("SELECT pg_jit_available()")
        (installed,) = cursor.fetchone()
        cursor.execute("SELECT set_config('jit', %s, true)", [current])  # a savepoint's release keeps SET LOCAL
    return installed


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_apps_connections_start_with_jit_off():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("feed", ["progress", "completions", "certificates"])
def test_a_feed_page_is_not_compiled_however_costly_its_plan(organisation, feed):
    if not _jit_compiler_installed():
        pytest.skip("this PostgreSQL has no JIT compiler, so nothing here could compile")
    query = {
        "progress": FeedQuery(organisation_id=organisation.pk),
        "completions": FeedQuery(organisation_id=organisation.pk, completed_only=True),
        "certificates": CertificateFeedQuery(organisation_id=organisation.pk),
    }[feed]
    with CaptureQueriesContext(connection) as queries:
        query.order_by(*query.ordering)[0:51]
    (page,) = queries.captured_queries
    with transaction.atomic(), connection.cursor() as cursor:
        # What a large database's estimates amount to: every plan costs more than the thresholds.
        for setting in ("jit_above_cost", "jit_inline_above_cost", "jit_optimize_above_cost"):
            cursor.execute(f"SET LOCAL {setting} = 0")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + page["sql"])
        explained = cursor.fetchone()[0]
    (plan,) = json.loads(explained) if isinstance(explained, str) else explained
    assert "JIT" not in plan, plan["JIT"]
