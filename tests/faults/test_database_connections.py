"""Connections the database server ends (a restart, a failover, an idle timeout) are
replaced before a request uses them: no error reaches a learner, and the check
that finds them costs no round trip (config/postgresql/base.py).

The ending is real: `pg_terminate_backend` on each of the servers' connections,
which is what PostgreSQL does to every client on a fast shutdown. PostgreSQL only.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CourseFactory
from tests.faults.test_server_faults import _database_url, _request

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate_servers_connections() -> int:
    """End the gunicorn workers' connections to the test database, as a server shutdown does; how many.

    Not this test process's own (the test needs it to clean up) nor the one asking.
    """
    connection.ensure_connection()
    with psycopg.connect(_database_url(), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s "
            "AND backend_type = 'client backend'",
            [connection.connection.info.backend_pid],
        ).fetchall()
    return len(rows)


def test_a_connection_the_server_ended_is_found_without_a_query():
    connection.ensure_connection()
    assert connection.is_usable()
    with CaptureQueriesContext(connection) as queries:
        assert connection.is_usable()
    assert queries.captured_queries == []  # the check sends nothing

    with psycopg.connect(_database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()
    # It really is dead: a query on it fails. Django closes it at the request's
    # start (CONN_HEALTH_CHECKS), and the next query opens a new one.
    with pytest.raises(psycopg.OperationalError):
        connection.connection.execute("SELECT 1")
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_pages_keep_working_when_the_server_ends_every_connection(start_server):
    """Two gunicorn workers with persistent connections; the server ends them all; the next requests all succeed."""
    CourseFactory()
    _, port = start_server(2)
    for _ in range(10):  # both workers now hold a connection
        assert _request(port, "GET", "/").status == 200
    assert _terminate_servers_connections() >= 1
    time.sleep(0.2)  # the termination notices reach the workers' sockets
    statuses = [_request(port, "GET", "/").status for _ in range(20)]
    assert statuses == [200] * 20
