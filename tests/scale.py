"""How many rows a query reads, by PostgreSQL's EXPLAIN ANALYZE: for tests that a query's cost
does not grow with data it should not look at (tests/test_scale.py, the outbox's fan-out);
and how often PostgreSQL planned a prepared statement (`plans_of`).

Whole-table plans (sequential and bitmap scans, hash and merge joins) are
disabled while explaining: test tables are tiny, so the planner would read
them whole even for a query an index serves. With an index available, a query
scoped to what it needs reads the same rows whatever else the table holds;
one that reads everything reads more as the table grows.
"""

from __future__ import annotations

import functools
import re
from contextlib import contextmanager

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

LOCK = re.compile(r"\s+FOR (NO KEY )?UPDATE( OF [^)]*?)?( SKIP LOCKED| NOWAIT)?\s*$", re.IGNORECASE)
SCAN_NODES = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


@functools.cache
def learner_tables() -> frozenset[str]:
    """Tables that grow with learners: a model with a `learner` or `user` foreign key to the user
    model, the user and session tables, and every model with a foreign key to one of those (responses,
    certificates, enrolments...). Content (lessons, items, options) is not among them: how many
    of its rows a page reads depends on the questions dealt, not on other learners."""
    user = get_user_model()
    tables = {user._meta.db_table, "django_session"}
    found = {model for model in apps.get_models()
             if any(f.many_to_one and f.name in ("learner", "user") and f.related_model is user
                    for f in model._meta.fields)}
    while True:
        more = {model for model in apps.get_models() if model not in found
                and any((f.many_to_one or f.one_to_one) and f.related_model in found for f in model._meta.fields)}
        if not more:
            break
        found |= more
    return frozenset(tables | {model._meta.db_table for model in found})


def plan_node(plan: dict, types: tuple[str, ...]) -> dict | None:
    """The first node of one of `types` in an EXPLAIN plan, depth first."""
    if plan["Node Type"] in types:
        return plan
    for child in plan.get("Plans", ()):
        found = plan_node(child, types)
        if found is not None:
            return found
    return None


def rows_read(plan: dict, tables: frozenset[str] | None = None) -> int:
    """Rows a plan's scans of `tables` (default: the learner tables) read: returned plus removed
    by filter or recheck, times loops."""
    tables = learner_tables() if tables is None else tables
    read = 0
    if plan["Node Type"] in SCAN_NODES and plan.get("Relation Name") in tables:
        per_loop = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                    + plan.get("Rows Removed by Index Recheck", 0))
        read += per_loop * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", ()):
        read += rows_read(child, tables)
    return read


# Plans a large table gets: index probes and nested loops. On a tiny test table the planner would
# rather scan, hash or sort it whole, which reads every row whatever the query asks for.
LARGE_TABLE_PLANS = ("enable_seqscan", "enable_bitmapscan", "enable_hashjoin", "enable_mergejoin")


def explain_rows(sql: str, params, tables: frozenset[str] | None = None) -> int:
    """Rows `sql` reads from `tables` now, by EXPLAIN ANALYZE, planned as for a large table."""
    connection.ensure_connection()
    # psycopg's own cursor, never prepared: psycopg prepares a statement run five times on a
    # connection (settings.py), and PostgreSQL may then plan it once for any parameters; the
    # rows counted must be those of a plan for these parameters.
    with connection.connection.cursor() as cursor:
        for setting in LARGE_TABLE_PLANS:
            cursor.execute(f"SET {setting} = off", prepare=False)
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params, prepare=False)
            (document,) = cursor.fetchone()
        finally:
            for setting in LARGE_TABLE_PLANS:
                cursor.execute(f"RESET {setting}", prepare=False)
    return rows_read(document[0]["Plan"], tables)


def page_reads(client: Client, path: str, data=None, **headers):
    """GET path, or POST `data` to it; (response, {SQL of each SELECT it ran: rows that SELECT reads now}).

    A SELECT ... FOR UPDATE is explained without its lock clause (EXPLAIN
    ANALYZE would take the lock; the rows read are the same).
    """
    with selects_captured() as ran:
        response = client.get(path, **headers) if data is None else client.post(path, data, **headers)
    reads: dict[str, int] = {}
    for sql, params in ran:
        reads[sql] = reads.get(sql, 0) + explain_rows(sql, params)
    return response, reads


@contextmanager
def selects_captured():
    """Collect (sql, params) of every SELECT run inside, lock clauses removed."""
    ran: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            ran.append((LOCK.sub("", sql), params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield ran


def plans_of(fragment: str) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL made for this connection's prepared statements
    whose text holds `fragment` (pg_prepared_statements, PostgreSQL 14+)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)"
            " FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%" + fragment + "%"],
        )
        return tuple(int(count) for count in cursor.fetchone())
