"""`make bench`: seed PostgreSQL, serve it with gunicorn, load it from this process, report.

    python -m bench.run                 # 10,000 learners (about 15 minutes)
    python -m bench.run --scale 10      # 100,000 learners
    python -m bench.run --smoke         # 50 learners, seconds per endpoint (CI)

1. Creates the database (`--database`, default bench_ce; only names starting
   with "bench" are ever dropped), migrates it, loads the course and seeds it
   (bench/seed.py).
2. Starts gunicorn on config.wsgi as production would (DEBUG off, a generated
   secret key, manifest static files collected into a temporary folder),
   with BENCH_SERVER=true so it also serves the floor page (bench/urls.py).
3. From this process (the server is another), measures each endpoint of
   bench/endpoints.py with `--concurrency` closed-loop clients, then the floor
   page at that endpoint's response size, and reports the ratio.
4. Runs the journey (bench/journey.py: locust users, headless, in their own
   process) and times item analysis (issue #5).
5. Prints the table and machine facts; writes bench/results/<timestamp>.json.

The API's per-learner and per-token throttles are raised in the bench server
(they would otherwise answer 429 to a load generator); their cache lookups
still run, so their cost is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SCHEMA_VERSION = 1
# The busy share of the cores (bench.cpu.machine_busy) under which the machine counts as quiet.
QUIET_BUSY = 0.15
BASE_LEARNERS = 10_000


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- settings and database ---------------------------------------------------------------


# A Redis database of its own: the run flushes it first.
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/15"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the 10,000 learners (e.g. 10)")
    parser.add_argument("--learners", type=int, help="learners in the population (overrides --scale)")
    parser.add_argument("--smoke", action="store_true", help="tiny volume and short phases, for CI")
    parser.add_argument("--duration", type=float, help="seconds measured per endpoint (default 12; smoke 2)")
    parser.add_argument("--warmup", type=float, help="seconds of unrecorded load first (default 2; smoke 0.5)")
    parser.add_argument("--concurrency", type=int, help="closed-loop clients per endpoint (default 32; smoke 8)")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1,
                        help="gunicorn workers (default cores + 1; docs/performance.md says why)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync or gthread)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--quiet-wait", type=float,
                        help=f"seconds to wait, at most, for the cores to be at most {QUIET_BUSY * 100:.0f}%% busy "
                             "before the load "
                             "(default 90; smoke 0: measured, not waited for)")
    parser.add_argument("--journey-users", type=int, help="simulated clinicians at once (default 32; smoke 4)")
    parser.add_argument("--journey-seconds", type=float, help="journey phase length (default 90; smoke 12)")
    parser.add_argument("--only", help="comma-separated endpoint keys to measure (default all)")
    parser.add_argument("--database", help="database name (default bench_ce; smoke bench_ce_smoke)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
                        help="PostgreSQL server URL, without a database name")
    parser.add_argument("--cache-url", default=os.environ.get("BENCH_CACHE_URL", DEFAULT_CACHE_URL),
                        help="Redis for the server's LMS_CACHE_URL (sessions, signed-in user, throttles), as in "
                             f"a production deployment; flushed first; 'none' for none (default {DEFAULT_CACHE_URL}, "
                             "used when it answers)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the JSON result")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database a previous run with the same --database and --learners seeded "
                             "(no re-seed); only attempts still open are submitted and only journey accounts "
                             "that never started a quiz are used, so a run may find fewer of either")
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.learners = args.learners or (50 if smoke else round(BASE_LEARNERS * args.scale))
    args.duration = args.duration or (1.5 if smoke else 12.0)
    args.concurrency = args.concurrency or (8 if smoke else 32)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if smoke else 2.0)
    args.quiet_wait = args.quiet_wait if args.quiet_wait is not None else (0.0 if smoke else 90.0)
    args.journey_users = args.journey_users or (4 if smoke else 32)
    args.journey_seconds = args.journey_seconds or (12.0 if smoke else 90.0)
    args.database = args.database or ("bench_ce_smoke" if smoke else "bench_ce")
    if not args.database.startswith("bench"):
        parser.error("--database must start with 'bench' (it is dropped and re-created)")
    return args


def admin_connect(pg_url: str):
    import psycopg

    return psycopg.connect(pg_url.rstrip("/") + "/postgres", autocommit=True)


def database_recreate(pg_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connect(pg_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(pg_url: str, name: str) -> None:
    from psycopg import sql

    with admin_connect(pg_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_environment(args, static_root: str) -> dict[str, str]:
    """The production configuration, as environment variables (config/settings.py reads no other)."""
    env = {
        "DATABASE_URL": f"{args.pg_url.rstrip('/')}/{args.database}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback; the client says https as a proxy would
        "DJANGO_LOG_LEVEL": "WARNING",
        "BENCH_SERVER": "true",
        "BENCH_STATIC_ROOT": static_root,
        "LMS_API_LEARNER_RATE": "100000000/min",
        "LMS_API_TOKEN_RATE": "100000000/min",
    }
    if args.cache_url:
        env["LMS_CACHE_URL"] = args.cache_url
    return env


def cache_prepare(args) -> int | None:
    """Flush the benchmark's Redis database and return the Redis server's pid; None (and no cache) if none answers."""
    if not args.cache_url or args.cache_url == "none":
        args.cache_url = ""
        return None
    import redis

    try:
        client = redis.Redis.from_url(args.cache_url, socket_connect_timeout=2)
        client.flushdb()
        pid = int(client.info("server")["process_id"])
        version = client.info("server")["redis_version"]
        client.close()
    except (redis.RedisError, OSError) as exc:
        log(f"no Redis at {args.cache_url} ({exc}): sessions and users come from PostgreSQL")
        args.cache_url = ""
        return None
    args.cache_version = f"Redis {version}"
    return pid


# --- machine facts -----------------------------------------------------------------------


def machine_facts(pg_version: str) -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import django
    import gunicorn

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": mem_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": pg_version,
    }


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_start(args, env: dict[str, str], port: int) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--worker-class", args.worker_class,
        "--threads", str(args.threads),
        "--backlog", "2048",
        "--log-level", "warning",
        "--timeout", "60",
    ]
    log(f"starting gunicorn: {' '.join(command[1:])}")
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/floor/16/", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    gunicorn_stop(process)
    raise RuntimeError("gunicorn did not answer within 60 s")


def gunicorn_stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- context for the load (ORM, before the event loop starts) -----------------------------


def sessions_create(user_ids: list[int]) -> dict[int, str]:
    """A signed-in session per user, as the login view would leave it; returns session keys."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from accounts.models import User

    hashes = {u.pk: u.get_session_auth_hash() for u in User.objects.filter(pk__in=user_ids).only("pk", "password")}
    store = SessionStore()
    expire = timezone.now() + dt.timedelta(days=1)
    keys, rows = {}, []
    for pk in user_ids:
        key = secrets.token_hex(16)
        data = {SESSION_KEY: str(pk), BACKEND_SESSION_KEY: "accounts.backends.CachedModelBackend",
                HASH_SESSION_KEY: hashes[pk]}
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys[pk] = key
    Session.objects.bulk_create(rows, batch_size=5000)
    return keys


def answer_key() -> dict[int, frozenset[int]]:
    from quizzes.models import Option

    key: dict[int, set[int]] = {}
    for version_id, pk in Option.objects.filter(is_correct=True).values_list("version_id", "pk"):
        key.setdefault(version_id, set()).add(pk)
    return {k: frozenset(v) for k, v in key.items()}


def submit_answers(layout: list[dict], key, rng: random.Random) -> list[tuple[str, str]]:
    fields = []
    for entry in layout:
        correct = key.get(entry["version"], frozenset())
        if rng.random() < 0.8 and correct:
            picked = sorted(correct)
        else:
            picked = [next((o for o in entry["options"] if o not in correct), entry["options"][0])]
        fields += [(f"q{entry['version']}", str(o)) for o in picked]
        fields.append((f"c{entry['version']}", "sure" if rng.random() < 0.7 else "unsure"))
    return fields


def journey_emails_unused(emails: list[str]) -> list[str]:
    """The journey accounts, in order, that no earlier run (of --reuse) has taken through a quiz:
    a used one would be refused a new post-test attempt (409) and count as an error."""
    from django.contrib.auth import get_user_model

    used = set(
        get_user_model().objects.filter(email__in=emails, attempts__isnull=False).values_list("email", flat=True)
    )
    return [email for email in emails if email not in used]


def submitters_open(submitters: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], dict[int, list]]:
    """The (learner, attempt) pairs whose attempt is still open, in order, and those attempts'
    layouts. With --reuse an earlier run submitted some, and submitting one again is a cheap
    repeat that grades nothing: measured with the rest, it flattered the submission's numbers."""
    from quizzes.models import Attempt

    layouts = dict(
        Attempt.objects.filter(pk__in=[a for _, a in submitters], submitted_at__isnull=True).values_list("pk", "layout")
    )
    return [(u, a) for u, a in submitters if a in layouts], layouts


def context_build(seeded, origin: str, concurrency: int):
    from django.urls import NoReverseMatch, reverse

    from bench.endpoints import Client, Context
    from quizzes.models import Quiz

    n_view = min(64, max(1, len(seeded.submitters) // 4))
    viewers, submitters = seeded.submitters[:n_view], seeded.submitters[n_view:]
    users = seeded.readers + [pk for pk, _ in seeded.submitters] + [seeded.staff_id]
    keys = sessions_create(users)
    clients = {pk: Client(pk, keys[pk]) for pk in users}
    key = answer_key()
    submitters, layouts = submitters_open(submitters)
    rng = random.Random(1)
    posttest = Quiz.objects.get(course__slug=seeded.course_slug, kind=Quiz.Kind.POSTTEST, lesson__isnull=True)

    def rev(name: str, *args):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            return None

    return Context(
        origin=origin,
        course=seeded.course_slug,
        lessons=seeded.lesson_slugs,
        readers=[clients[pk] for pk in seeded.readers[: max(concurrency, 1) * 2]],
        viewers=[(clients[u], a) for u, a in viewers],
        submitters=[(clients[u], a, submit_answers(layouts[a], key, rng)) for u, a in submitters],
        staff=clients[seeded.staff_id],
        certificates=[(clients[u], c) for u, c in seeded.certificates.items()],
        api_token=seeded.api_token,
        posttest_quiz_id=posttest.pk,
        reverse=rev,
    ), key


def item_analysis_time(course_slug: str) -> dict:
    """Issue #5's benchmark: item analysis of the post-test (and the busiest check) with its queries."""
    from django.db import connection
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from quizzes import selectors
    from quizzes.models import Attempt, Quiz

    out = {"attempts_total": Attempt.objects.count(), "quizzes": {}}
    if not hasattr(selectors, "item_analysis_get"):
        out["unavailable"] = "quizzes.selectors.item_analysis_get does not exist"
        return out
    posttest = Quiz.objects.get(course__slug=course_slug, kind=Quiz.Kind.POSTTEST, lesson__isnull=True)
    busiest = (
        Quiz.objects.filter(course__slug=course_slug, kind=Quiz.Kind.CHECK)
        .annotate(n=Count("attempts")).order_by("-n").first()
    )
    for label, quiz in (("posttest", posttest), ("busiest_check", busiest)):
        if quiz is None:
            continue
        for first_only in (True, False):
            times = []
            for _ in range(3):
                with CaptureQueriesContext(connection) as queries:
                    t0 = time.perf_counter()
                    rows = selectors.item_analysis_get(quiz=quiz, first_attempts_only=first_only)
                    times.append(time.perf_counter() - t0)
            out["quizzes"][f"{label}_{'first' if first_only else 'all'}_attempts"] = {
                "quiz": quiz.title,
                "attempts": Attempt.objects.filter(quiz=quiz, submitted_at__isnull=False).count(),
                "items": len(rows),
                "queries": len(queries),
                "best_s": round(min(times), 3),
                "median_s": round(statistics.median(times), 3),
            }
    out["max_median_s"] = max((q["median_s"] for q in out["quizzes"].values()), default=None)
    out["target_s"] = 2.0
    out["met"] = out["max_median_s"] is not None and out["max_median_s"] < 2.0
    return out


# --- the load ------------------------------------------------------------------------------


# Page and floor alternate in this many slices each (bench/run.py: _page_and_floor).
SLICES = 3


def _cpu_combine(parts: list[tuple[dict, int]]) -> dict:
    """Per-request CPU over several slices, weighted by each slice's requests."""
    total = sum(n for _, n in parts)
    if not total:
        return {}
    keys = {key for cpu, _ in parts for key in cpu}
    return {key: round(sum(cpu.get(key, 0.0) * n for cpu, n in parts) / total, 3) for key in sorted(keys)}


async def _page_and_floor(args, base, ctx, built, concurrency, keepalive, meter):
    """The page for args.duration and its floor for as long, alternating in SLICES slices.

    The floor is /bench/floor/<bytes>/ at the size the page's first slice
    answered with on average. Returns (page recording, page CPU, floor summary, floor CPU).
    """
    from bench.client import Recorder, Req, closed_loop

    page, floor = Recorder(), Recorder()
    page_cpu, floor_cpu = [], []
    size, source = None, None
    for _ in range(SLICES):
        before = meter.snapshot()
        part = await closed_loop(base, built, concurrency=concurrency, duration=args.duration / SLICES,
                                 max_requests=1_000_000, keepalive=keepalive)
        page_cpu.append((meter.per_request(before, meter.snapshot(), len(part.latencies)), len(part.latencies)))
        page.merge(part)
        if source is None:
            size = part.summary()["mean_bytes"]
            if not size:
                break
            floor_req = Req("GET", f"/bench/floor/{size}/", ctx.headers(ctx.readers[0]))
            source = lambda w, i, r=floor_req: r  # noqa: E731
            if args.warmup:
                await closed_loop(base, source, concurrency=concurrency, duration=args.warmup,
                                  max_requests=100_000, keepalive=keepalive, record=False)
        before = meter.snapshot()
        part = await closed_loop(base, source, concurrency=concurrency, duration=args.duration / SLICES,
                                 max_requests=1_000_000, keepalive=keepalive)
        floor_cpu.append((meter.per_request(before, meter.snapshot(), len(part.latencies)), len(part.latencies)))
        floor.merge(part)
    return page, _cpu_combine(page_cpu), (floor.summary() if size else None), _cpu_combine(floor_cpu)


async def _prime(base: str, requests: list, keepalive: bool):
    """Send each request once, two at a time (one per core), recording statuses and errors only."""
    from bench.client import closed_loop

    pending = iter(requests)
    return await closed_loop(base, lambda w, i: next(pending, None), concurrency=2, duration=600,
                             max_requests=len(requests), keepalive=keepalive)


def _orm_call(function, *args):
    """`function(*args)` in this (worker) thread, closing the database connection it opened."""
    from django.db import connection

    try:
        return function(*args)
    finally:
        connection.close()


async def measure_all(args, base: str, ctx, endpoints, keepalive: bool, meter) -> dict:
    from bench.client import closed_loop, one

    results = {}
    for endpoint in endpoints:
        built = endpoint.build(ctx)
        row = {"label": endpoint.label, "kind": endpoint.kind, "target_ratio": endpoint.target_ratio,
               "target_p95_ms": endpoint.target_p95_ms}
        if isinstance(built, str):
            row.update(status="n/a", reason=built)
            results[endpoint.key] = row
            log(f"{endpoint.label}: n/a ({built})")
            continue
        concurrency = endpoint.concurrency or args.concurrency
        if endpoint.kind != "write":  # a write's preflight would use up a pool entry for nothing
            req = built(0, 0)
            status, body = await one(base, req, keepalive=keepalive)
            if status not in req.expect:
                row.update(status="n/a", reason=f"preflight: HTTP {status} {body[:120]!r}")
                results[endpoint.key] = row
                log(f"{endpoint.label}: n/a (preflight HTTP {status})")
                continue
        primed = None
        if endpoint.prime is not None:
            primed = await _prime(base, endpoint.prime(ctx), keepalive)
            log(f"{endpoint.label}: primed with {primed.summary()['requests']} requests in {primed.elapsed:.1f} s")
        if args.warmup and endpoint.kind != "write":
            await closed_loop(base, built, concurrency=concurrency, duration=args.warmup, max_requests=100_000,
                              keepalive=keepalive, record=False)
        measured_from = dt.datetime.now(dt.UTC)
        if endpoint.floor and endpoint.kind != "write":
            # The page and its floor in alternating slices, so that whatever else
            # the machine does (CPU boost, a neighbour's load) weighs on both alike.
            rec, cpu, floor, floor_cpu = await _page_and_floor(args, base, ctx, built, concurrency, keepalive, meter)
        else:
            cpu_before = meter.snapshot()
            rec = await closed_loop(base, built, concurrency=concurrency, duration=args.duration,
                                    max_requests=1_000_000, keepalive=keepalive, interval=endpoint.interval_s)
            cpu = meter.per_request(cpu_before, meter.snapshot(), len(rec.latencies))
            floor = None
        row.update(status="measured", concurrency=concurrency, interval_s=endpoint.interval_s,
                   loadavg_1m=round(os.getloadavg()[0], 2), cpu=cpu, **rec.summary())
        if primed is not None:
            # A failed priming request is the server's error like any other: the row counts it.
            row["primed"] = {k: v for k, v in primed.summary().items() if k in ("requests", "errors", "seconds")}
            row["errors"] += primed.errors
            row["error_samples"] = (primed.error_samples + row["error_samples"])[:5]
        if endpoint.made_since is not None:
            row["made_while_measured"] = await asyncio.to_thread(_orm_call, endpoint.made_since, ctx, measured_from)
            if row["made_while_measured"]:
                log(f"WARNING {endpoint.label}: {row['made_while_measured']} once-only results made while measured")
        if floor is not None and floor["requests"]:
            floor["cpu"] = floor_cpu
            row["floor"] = {k: floor[k] for k in ("rps", "p50_ms", "p95_ms", "p99_ms", "mean_bytes", "errors", "cpu")}
            row["ratio"] = round(row["rps"] / floor["rps"], 3) if floor["rps"] else None
            if cpu.get("total_ms") and floor_cpu.get("total_ms"):
                # What the ratio would be on a dedicated machine (see bench/cpu.py).
                row["cpu_ratio"] = round(floor_cpu["total_ms"] / cpu["total_ms"], 3)
        met = row["errors"] == 0
        if endpoint.target_ratio is not None:
            met = met and row.get("ratio") is not None and row["ratio"] >= endpoint.target_ratio
        if endpoint.target_p95_ms is not None:
            met = met and row["p95_ms"] is not None and row["p95_ms"] < endpoint.target_p95_ms
        row["target_met"] = met if (endpoint.target_ratio or endpoint.target_p95_ms) else None
        results[endpoint.key] = row
        log(f"{endpoint.label}: {row['rps']} req/s, p95 {row['p95_ms']} ms, errors {row['errors']}"
            + (f", floor ratio {row.get('ratio')}" if "ratio" in row else "")
            + (f", CPU {cpu['total_ms']} ms/request" if cpu else "")
            + (f", CPU ratio {row['cpu_ratio']}" if "cpu_ratio" in row else ""))
    return results


def table(report: dict) -> str:
    lines = []
    head = f"{'endpoint':<40} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'err':>4} {'bytes':>6} " \
           f"{'floor/s':>7} {'ratio':>5} {'cpu ms':>6} {'cpu ratio':>9}  target"
    lines += [head, "-" * len(head)]
    for row in report["endpoints"].values():
        if row["status"] != "measured":
            lines.append(f"{row['label']:<40} n/a: {row['reason']}"[:160])
            continue
        floor = row.get("floor", {})
        target = ""
        if row["target_ratio"] is not None:
            target = f"ratio ≥ {row['target_ratio']}"
        if row["target_p95_ms"] is not None:
            target = f"p95 < {row['target_p95_ms']:.0f} ms @ {row['concurrency']}" + (" paced" if row["interval_s"] else "")
        if target:
            target += ": " + ("met" if row["target_met"] else "MISSED")
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "-"
        cpu_ratio = f"{row['cpu_ratio']:.2f}" if row.get("cpu_ratio") is not None else "-"
        floor_rps = f"{floor['rps']:.1f}" if floor else "-"
        lines.append(
            f"{row['label'][:40]:<40} {row['rps']:>7.1f} {row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} "
            f"{row['p99_ms']:>7.1f} {row['errors']:>4} {row['mean_bytes']:>6} "
            f"{floor_rps:>7} {ratio:>5} {row['cpu'].get('total_ms', 0):>6.1f} {cpu_ratio:>9}  {target}"
        )
    j = report.get("journey")
    if j:
        lines += ["", f"journey: {j['completed']} completed ({j['journeys_per_minute']}/min), {j['failed']} failed, "
                      f"{j['passed_posttest']} passed the post-test, {j['errors']} errors, "
                      f"{report['settings']['journey_users']} clinicians for {j['seconds']} s"]
        lines.append(f"  {'step':<22} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'err':>5}")
        if j.get("error"):
            lines.append(f"  the journey did not run: {j['error']}")
        for name, s in j["steps"].items():
            lines.append(f"  {name:<22} {s['requests']:>8} {s['p50_ms'] or 0:>8.1f} {s['p95_ms'] or 0:>8.1f} "
                         f"{s['p99_ms'] or 0:>8.1f} {s['errors']:>5}")
    prof = report.get("profile") or {}
    if prof:
        lines += ["", "one request in-process, no network (median):",
                  f"  {'endpoint':<40} {'queries':>7} {'total ms':>9} {'db ms':>7} {'render ms':>9} {'other ms':>8}"]
        for p in prof.values():
            lines.append(f"  {p['label'][:40]:<40} {p['queries']:>7} {p['total_ms']:>9.2f} {p['db_ms']:>7.2f} "
                         f"{p['render_ms']:>9.2f} {p['other_ms']:>8.2f}")
    ia = report.get("item_analysis", {})
    if ia.get("quizzes"):
        lines += ["", f"item analysis ({ia['attempts_total']:,} attempts in the database):"]
        for name, q in ia["quizzes"].items():
            lines.append(f"  {name:<30} {q['attempts']:>8,} attempts {q['items']:>3} items {q['queries']} queries "
                         f"median {q['median_s'] * 1000:.0f} ms")
    elif ia.get("unavailable"):
        lines += ["", f"item analysis: n/a ({ia['unavailable']})"]
    m = report["machine"]
    lines += ["", f"machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, "
                  f"Django {m['django']}, gunicorn {m['gunicorn']} ({report['settings']['workers']} "
                  f"{report['settings']['worker_class']} workers), {m['postgresql']} "
                  f"(JIT {report['settings'].get('postgresql_jit', 'unknown')}), cache: {m.get('cache', 'none')}"]
    quiet = report.get("cpu_busy_before_load") or {}
    busy = "n/a" if quiet.get("busy") is None else f"{quiet['busy']:.1%}"
    lines.append(f"cores busy just before the load {busy} (after waiting {quiet.get('waited_s', 0)} s; above "
                 f"{QUIET_BUSY:.0%}, other work shared them); load average (1 min) before {report['loadavg']['before_load'][0]}, "
                 f"after {report['loadavg']['after_load'][0]} (it lags: the seed and the profiling raise it)")
    s = report["summary"]
    lines.append(f"targets: {'all met' if s['all_targets_met'] else 'NOT all met'}; errors: {s['errors']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    cache_pid = cache_prepare(args)
    env = server_environment(args, static_root)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))
    seed_file = Path(tempfile.gettempdir()) / f"{args.database}-{args.learners}.seed.json"
    reuse = args.reuse and seed_file.exists()
    if not reuse:
        log(f"database {args.database}: creating")
        database_recreate(args.pg_url, args.database)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.cpu import CpuMeter, wait_until_quiet
    from bench.endpoints import ENDPOINTS
    from bench.journey import JourneyPlan, run_journeys
    from bench.seed import LEARNER_PASSWORD, seed

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = "PostgreSQL " + cursor.fetchone()[0]
        # The server's connections are made from the same settings and environment as this one:
        # JIT on or off (DJANGO_DB_JIT) changes what a costly-looking page costs (docs/performance.md).
        cursor.execute("SHOW jit")
        pg_jit = cursor.fetchone()[0]
    machine = machine_facts(pg_version)
    machine["cache"] = getattr(args, "cache_version", "") or "none (sessions and users from PostgreSQL)"
    log(f"machine: {machine}")
    t = time.perf_counter()
    if not reuse:
        call_command("migrate", verbosity=0, interactive=False)
        call_command("load_curriculum", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    setup_s = time.perf_counter() - t
    log(f"migrated, loaded the course and collected static files in {setup_s:.1f} s")
    if reuse:
        from bench.seed import SeedResult

        data = json.loads(seed_file.read_text())
        data["submitters"] = [tuple(pair) for pair in data["submitters"]]
        data["certificates"] = {int(k): v for k, v in data["certificates"].items()}
        seeded = SeedResult(**data)
        seeded.journey_emails = journey_emails_unused(seeded.journey_emails)
        log(f"reusing the database seeded earlier ({seed_file}): only the attempts still open are submitted and "
            f"only the {len(seeded.journey_emails):,} journey accounts that never started a quiz are used")
    else:
        seeded = seed(
            learners=args.learners,
            readers=max(2 * args.concurrency, 64),
            submitters=300 if args.smoke else 4_000 + 64,
            journey=40 if args.smoke else 1_500,
            progress=log,
        )
        seed_file.write_text(json.dumps(dataclasses.asdict(seeded)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    origin = f"https://127.0.0.1:{port}"
    ctx, key = context_build(seeded, origin, args.concurrency)
    wanted = set(args.only.split(",")) if args.only else None
    db_size = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        db_size = cursor.fetchone()[0]
    log("profiling each page in-process (queries, database, rendering)")
    from bench.profile import profile

    profiles = profile(ctx, [e for e in ENDPOINTS if wanted is None or e.key in wanted])
    # The seed and the profiling just kept the cores busy, so the load average still reads high:
    # measure the cores themselves, wait a while if anything is still running, and say so.
    quiet = wait_until_quiet(threshold=QUIET_BUSY, timeout=args.quiet_wait,
                             window=2.0 if args.quiet_wait else 0.5, log=log)
    loadavg_before = [round(x, 2) for x in os.getloadavg()]
    if quiet["busy"] is not None and quiet["busy"] > QUIET_BUSY:
        log(f"WARNING: the cores were {quiet['busy']:.0%} busy before the load (waited {quiet['waited_s']} s): "
            "other processes share them; numbers will be low and noisy")
    connection.close()  # the load runs no ORM; nothing to hold open meanwhile
    endpoints = [e for e in ENDPOINTS if wanted is None or e.key in wanted]
    keepalive = args.worker_class != "sync"
    server = gunicorn_start(args, env, port)
    meter = CpuMeter(server_pid=server.pid, dsn=env["DATABASE_URL"], cache_pid=cache_pid)
    try:
        results = asyncio.run(measure_all(args, base, ctx, endpoints, keepalive, meter))
        plan = JourneyPlan(
            base=base, origin=origin,
            course_path=ctx.reverse("curriculum:course_detail", ctx.course),
            lesson_paths=[ctx.reverse("curriculum:lesson_detail", ctx.course, s) for s in ctx.lessons],
            posttest_path=ctx.reverse("quizzes:quiz_detail", ctx.course, "posttest"),
            posttest_start_path=ctx.reverse("quizzes:quiz_start", ctx.course, "posttest"),
            dashboard_path=ctx.reverse("quizzes:dashboard"),
            login_path=ctx.reverse("accounts:login"),
            emails=seeded.journey_emails, password=LEARNER_PASSWORD, key=key,
            evaluation_path=ctx.reverse("credits:evaluation_form", ctx.course),
            claim_path=ctx.reverse("credits:claim_form", ctx.course),
            answers_path=ctx.reverse("v1:attempt-answers", 0).replace("/0/", "/{id}/"),
        )
        log(f"journey: {args.journey_users} clinicians for {args.journey_seconds:.0f} s")
        journey = run_journeys(plan, users=args.journey_users, duration=args.journey_seconds,
                               ramp_up=min(10.0, args.journey_seconds / 6))
        log(f"journey: {journey['completed']} completed, {journey['journeys_per_minute']}/min, "
            f"{journey['errors']} errors")
    finally:
        meter.close()
        gunicorn_stop(server)
        shutil.rmtree(static_root, ignore_errors=True)
    loadavg_after = [round(x, 2) for x in os.getloadavg()]
    log("timing item analysis")
    item_analysis = item_analysis_time(seeded.course_slug)
    measured = [r for r in results.values() if r["status"] == "measured"]
    errors = sum(r["errors"] for r in measured) + journey["errors"]
    targets = [r["target_met"] for r in measured if r.get("target_met") is not None]
    if item_analysis.get("met") is not None:
        targets.append(item_analysis["met"])
    report = {
        "schema": SCHEMA_VERSION,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {
            "smoke": args.smoke, "learners": args.learners, "scale": args.scale, "database": args.database,
            "concurrency": args.concurrency, "duration_s": args.duration, "warmup_s": args.warmup,
            "workers": args.workers, "worker_class": args.worker_class, "threads": args.threads,
            "journey_users": args.journey_users, "journey_seconds": args.journey_seconds,
            "debug": False, "conn_max_age": 60, "postgresql_jit": pg_jit,
        },
        "seed": {"counts": seeded.counts, "seconds": {k: round(v, 1) for k, v in seeded.seconds.items()},
                 "notes": seeded.notes, "setup_s": round(setup_s, 1), "database_size": db_size},
        "loadavg": {"before_load": loadavg_before, "after_load": loadavg_after},
        "cpu_busy_before_load": quiet,
        "endpoints": results,
        "profile": profiles,
        "journey": journey,
        "item_analysis": item_analysis,
        "summary": {
            "errors": errors,
            "all_targets_met": bool(targets) and all(targets) and errors == 0,
            "unavailable": {k: r["reason"] for k, r in results.items() if r["status"] != "measured"},
        },
    }
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"{started.strftime('%Y%m%dT%H%M%SZ')}{'-smoke' if args.smoke else ''}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(table(report))
    print(f"\nresults: {path}")
    if args.drop:
        database_drop(args.pg_url, args.database)
        seed_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
