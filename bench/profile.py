"""Why a page costs what it costs: queries, time in the database, time rendering, per request.

Runs each measured GET endpoint in this process through Django's test
client (the full middleware stack, the same session as the load), with no
network and no concurrency, and splits the server-side time of one request:
database (every query, via `connection.execute_wrapper`), template rendering
(the Django template backend's `render`, timed here only), and the rest
(middleware, ORM query building, serialisers, view code). The floor page is
profiled the same way, as the baseline.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

from django.db import connection
from django.template.backends import django as django_backend
from django.test import Client as TestClient

from bench.endpoints import Context, Endpoint


class _Meter:
    def __init__(self):
        self.queries = 0
        self.db = 0.0
        self.render = 0.0

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.db += time.perf_counter() - t0
            self.queries += 1


@contextmanager
def _render_timed(meter: _Meter):
    original = django_backend.Template.render

    def render(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            meter.render += time.perf_counter() - t0

    django_backend.Template.render = render
    try:
        yield
    finally:
        django_backend.Template.render = original


def _one(client: TestClient, req) -> tuple[int, _Meter, float, float]:
    meter = _Meter()
    headers = {k: v for k, v in req.headers.items() if k not in ("Cookie",)}
    with _render_timed(meter), connection.execute_wrapper(meter):
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.generic(req.method, req.path, headers=headers)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return response.status_code, meter, total, cpu


def profile(ctx: Context, endpoints: list[Endpoint], *, repeat: int = 20) -> dict:
    """Per GET endpoint: queries, and median ms total / database / rendering / other / CPU, of `repeat` requests."""
    from bench.client import Req

    out = {}
    floor = Endpoint("floor", "floor page (30 kB)", "page",
                     lambda c: (lambda w, i: Req("GET", "/bench/floor/30000/", c.headers(c.readers[0]))))
    for endpoint in [floor, *endpoints]:
        if endpoint.kind == "write":
            continue
        built = endpoint.build(ctx)
        if isinstance(built, str):
            continue
        req = built(0, 0)
        client = TestClient(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
        for part in req.headers.get("Cookie", "").split("; "):
            if "=" in part:
                name, value = part.split("=", 1)
                client.cookies[name] = value
        if "Authorization" in req.headers:
            client.defaults["HTTP_AUTHORIZATION"] = req.headers["Authorization"]
        status, *_ = _one(client, req)  # warm caches and connection
        samples = [_one(client, req) for _ in range(repeat if endpoint.kind != "staff" else 3)]
        totals = [s[2] for s in samples]
        dbs = [s[1].db for s in samples]
        renders = [s[1].render for s in samples]
        cpus = [s[3] for s in samples]
        med_total, med_db, med_render, med_cpu = (statistics.median(x) * 1000 for x in (totals, dbs, renders, cpus))
        out[endpoint.key] = {
            "label": endpoint.label,
            "status": status,
            "queries": samples[-1][1].queries,
            "total_ms": round(med_total, 2),
            "db_ms": round(med_db, 2),
            "render_ms": round(med_render, 2),
            "other_ms": round(max(0.0, med_total - med_db - med_render), 2),
            # This process's CPU (Python: middleware, ORM, view, template), without the
            # database's or the waits: steadier than the wall times on a shared machine.
            "cpu_ms": round(med_cpu, 2),
        }
    return out
