"""Faults of a scaled deployment: real gunicorn servers against the test database.

Each test starts production-like gunicorn processes (DEBUG off, a secret key,
no SSL redirect, the bench's static files) against the test database; with
transaction=True that database holds committed data the servers can read.
Learners sign in through session rows made in the test process (with the
servers' secret key) and post the attempt form as a browser behind a
TLS-terminating proxy would. PostgreSQL only: tests/conftest.py skips the
postgres marker on SQLite.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from django.db import close_old_connections, connection

from bench.run import sessions_create
from curriculum.models import LearnerEvent
from quizzes import grading, services
from quizzes.models import Attempt, Option, Quiz, Response, ResponseChoice
from tests.factories import UserFactory
from tests.httpd import free_port
from tests.quizzes.factories import key_of, quiz_with_items

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CSRF = "a" * 32  # an unmasked CSRF secret, sent as cookie and form field
REQUEST_TIMEOUT = 30

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# --- servers ------------------------------------------------------------------------------


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _server_env(secret_key: str, static_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BENCH_"))}
    return {
        **env,
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "BENCH_SERVER": "true",  # the site's URLs plus /bench/floor/, static files from static_root
        "BENCH_STATIC_ROOT": str(static_root),
    }


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    """Static files collected once, so rendered pages work with the manifest storage."""
    root = tmp_path_factory.mktemp("static")
    env = _server_env(secrets.token_urlsafe(50), root)
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env=env, check=True, timeout=120,
    )
    return root


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the master and its workers
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def secret_key(settings):
    """The servers' secret key, also the test process's, so its session rows sign in."""
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    return settings.SECRET_KEY


@pytest.fixture
def start_server(static_root, secret_key):
    """start_server(workers, **env) -> (master process, port); every server is stopped at teardown.

    `env` adds to or overrides the servers' environment (`_server_env`)."""
    started: list[subprocess.Popen] = []

    def start(workers: int, **env: str) -> tuple[subprocess.Popen, int]:
        port = free_port()
        command = [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "--worker-class", "sync", "--log-level", "warning", "--timeout", "30"]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=_server_env(secret_key, static_root) | env, start_new_session=True
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, f"gunicorn exited with {process.returncode}"
            try:
                if _request(port, "GET", "/bench/floor/16/").status == 200:
                    return process, port
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not answer within 30 s")

    yield start
    for process in started:
        _stop(process)


def _workers(master_pid: int) -> set[int]:
    """The pids whose parent is the gunicorn master (from /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master_pid:
            pids.add(int(entry.name))
    return pids


# --- a browser's requests -------------------------------------------------------------------


class Reply:
    def __init__(self, status: int, location: str):
        self.status = status
        self.location = location


def _request(port: int, method: str, path: str, *, session: str = "", fields=()) -> Reply:
    """One request as a browser behind a TLS-terminating proxy sends it; no redirects followed."""
    headers = {"X-Forwarded-Proto": "https", "Host": f"127.0.0.1:{port}"}
    body = None
    if session:
        headers["Cookie"] = f"sessionid={session}; csrftoken={CSRF}"
    if method == "POST":
        body = urllib.parse.urlencode([("csrfmiddlewaretoken", CSRF), *fields])
        headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://127.0.0.1:{port}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return Reply(response.status, response.getheader("Location", ""))
    finally:
        conn.close()


def _run_together(n: int, work) -> list:
    """work(i) in n threads released by one barrier; the results, or the exception each raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def target(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a request thread did not finish"
    return results


def _posttest(n_items: int = 4, **fields) -> Quiz:
    quiz = quiz_with_items(n_items, **fields)
    quiz.course.is_published = True
    quiz.course.save(update_fields=["is_published"])
    return quiz


def _fields(answers: dict[int, set[int]]) -> list[tuple[str, str]]:
    out = []
    for version_id, options in answers.items():
        out += [(f"q{version_id}", str(o)) for o in sorted(options)]
        out.append((f"c{version_id}", "sure"))
    return out


def _chosen(attempt: Attempt) -> dict[int, set[int]]:
    chosen: dict[int, set[int]] = {entry["version"]: set() for entry in attempt.layout}
    for version_id, option_id in ResponseChoice.objects.filter(response__attempt=attempt).values_list(
        "response__item_version_id", "option_id"
    ):
        chosen[version_id].add(option_id)
    return chosen


def _regrade(attempt: Attempt) -> grading.Result:
    """The grade the stored choices earn, from the answer key in the database."""
    versions = [entry["version"] for entry in attempt.layout]
    options = Option.objects.filter(version_id__in=versions).select_related("version")
    key = {v: (None, set()) for v in versions}
    for option in options:
        key[option.version_id] = (option.version.type, key[option.version_id][1])
        if option.is_correct:
            key[option.version_id][1].add(option.pk)
    items = [grading.KeyItem(v, key[v][0], frozenset(key[v][1])) for v in versions]
    chosen = {v: frozenset(s) for v, s in _chosen(attempt).items()}
    return grading.grade(items, chosen, pass_mark=attempt.quiz.pass_mark)


def _events(attempt: Attempt) -> int:
    return LearnerEvent.objects.filter(object_ref=f"quizzes.attempt:{attempt.pk}").count()


# --- 1. two app servers, one database ---------------------------------------------------------


def test_same_submit_to_two_servers_grades_each_attempt_once(start_server):
    """The same submit sent to two servers at once: both answer success, the attempt is graded once."""
    (_, port_a), (_, port_b) = start_server(2), start_server(2)
    quiz = _posttest()
    learners = UserFactory.create_batch(6)
    attempts = [services.attempt_start(learner=learner, quiz=quiz) for learner in learners]
    sessions = sessions_create([learner.pk for learner in learners])
    close_old_connections()

    for learner, attempt in zip(learners, attempts, strict=True):
        key = key_of(attempt)
        fields = [("action", "submit"), *_fields({v: k["correct"] for v, k in key.items()})]
        replies = _run_together(2, lambda i, a=attempt, lr=learner, f=fields: _request(
            (port_a, port_b)[i], "POST", f"/attempts/{a.pk}/", session=sessions[lr.pk], fields=f
        ))

        assert [r.status for r in replies] == [302, 302], [getattr(r, "status", r) for r in replies]
        assert all(r.location.endswith(f"/attempts/{attempt.pk}/result/") for r in replies)
        stored = Attempt.objects.get(pk=attempt.pk)
        assert stored.submitted_at is not None
        assert stored.passed is True
        assert Attempt.objects.filter(learner=learner, quiz=quiz).count() == 1
        assert LearnerEvent.objects.filter(
            object_ref=f"quizzes.attempt:{attempt.pk}", verb__in=["passed", "failed"]
        ).count() == 1
        assert Response.objects.filter(attempt=attempt, is_correct=True).count() == stored.correct_count == 4


def test_concurrent_starts_on_two_servers_never_exceed_the_attempt_limit(start_server):
    """Start pressed on two servers at once, round after round: one attempt per round, never over the limit."""
    (_, port_a), (_, port_b) = start_server(2), start_server(2)
    quiz = _posttest(attempt_limit=2)
    learners = UserFactory.create_batch(3)
    sessions = sessions_create([learner.pk for learner in learners])
    close_old_connections()
    start = f"/courses/{quiz.course.slug}/quizzes/posttest/start/"

    for learner in learners:
        session = sessions[learner.pk]
        statuses = []
        for _ in range(3):  # the third round is over the limit of two
            replies = _run_together(2, lambda i, s=session: _request((port_a, port_b)[i], "POST", start, session=s))
            statuses.append(sorted(getattr(r, "status", r) for r in replies))
            opened = {r.location for r in replies if r.status == 302}
            assert len(opened) <= 1, opened  # both tabs land on the same attempt
            if opened:
                attempt = Attempt.objects.get(learner=learner, quiz=quiz, submitted_at__isnull=True)
                wrong = {v: {min(k["wrong"])} for v, k in key_of(attempt).items()}  # fail, so a retake is allowed
                reply = _request(port_a, "POST", f"/attempts/{attempt.pk}/", session=session,
                                 fields=[("action", "submit"), *_fields(wrong)])
                assert reply.status == 302

        assert statuses == [[302, 302], [302, 302], [409, 409]]
        assert Attempt.objects.filter(learner=learner, quiz=quiz).count() == 2
        assert LearnerEvent.objects.filter(object_ref__in=[
            f"quizzes.attempt:{pk}" for pk in Attempt.objects.filter(learner=learner).values_list("pk", flat=True)
        ]).count() == 2


# --- 2. a worker killed mid-request ------------------------------------------------------------


def test_worker_killed_mid_burst_leaves_no_half_written_attempt(start_server):
    """SIGKILL of a worker during saves and submits: each attempt is whole or untouched, confirmed answers stay."""
    master, port = start_server(2)
    quiz = _posttest(6)
    learners = UserFactory.create_batch(40)
    attempts = [services.attempt_start(learner=learner, quiz=quiz) for learner in learners]
    sessions = sessions_create([learner.pk for learner in learners])
    answers = {}
    for index, attempt in enumerate(attempts):
        key = key_of(attempt)
        # Half answer everything right, half everything wrong: the regrade tells them apart.
        answers[attempt.pk] = {v: (k["correct"] if index % 2 else {min(k["wrong"])}) for v, k in key.items()}
    close_old_connections()
    workers_before = _workers(master.pid)
    assert len(workers_before) == 2
    done = threading.Semaphore(0)
    confirmed: dict[int, set[str]] = {a.pk: set() for a in attempts}
    lost: list[str] = []
    answered_at_kill: list[int] = []

    def learner_burst(index):
        attempt = attempts[index]
        path, session = f"/attempts/{attempt.pk}/", sessions[learners[index].pk]
        for action in ("save", "submit") if index % 4 else ("save",):
            try:
                reply = _request(port, "POST", path, session=session,
                                 fields=[("action", action), *_fields(answers[attempt.pk])])
            except (OSError, http.client.HTTPException):
                lost.append(action)
                continue  # the killed worker's connection: not confirmed
            finally:
                done.release()
            assert reply.status < 500, (action, reply.status)
            if reply.status == 302:
                confirmed[attempt.pk].add(action)

    def killer():
        for _ in range(12):  # a dozen requests answered: the burst is in full flow
            done.acquire(timeout=20)
        os.kill(min(_workers(master.pid)), signal.SIGKILL)
        answered_at_kill.append(sum(len(c) for c in confirmed.values()))

    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    results = _run_together(len(learners), learner_burst)
    kill_thread.join(timeout=30)
    assert [r for r in results if r is not None] == []
    assert answered_at_kill[0] < 70, "the worker was killed after the burst"  # 40 saves + 30 submits
    assert len(lost) <= 2  # at most the request(s) the killed worker held
    assert _workers(master.pid) != workers_before  # the killed worker is gone

    for attempt in Attempt.objects.filter(pk__in=confirmed).select_related("quiz"):
        responses = list(Response.objects.filter(attempt=attempt))
        assert len(responses) == attempt.question_count
        if "save" in confirmed[attempt.pk] or "submit" in confirmed[attempt.pk]:
            assert _chosen(attempt) == answers[attempt.pk], attempt.pk
        if "submit" in confirmed[attempt.pk]:
            assert attempt.submitted_at is not None, attempt.pk
        if attempt.submitted_at is None:
            assert (attempt.score, attempt.passed, attempt.correct_count) == (None, None, None), attempt.pk
            assert all(r.is_correct is None for r in responses), attempt.pk
            assert _events(attempt) == 0, attempt.pk
        else:
            result = _regrade(attempt)
            assert _chosen(attempt) == answers[attempt.pk], attempt.pk
            assert all(r.answered_at is not None and r.is_correct is not None for r in responses), attempt.pk
            assert sum(r.is_correct for r in responses) == result.correct == attempt.correct_count, attempt.pk
            assert (attempt.score, attempt.passed) == (result.score, result.passed), attempt.pk
            assert _events(attempt) == 1, attempt.pk

    # The master respawned the worker, and the server keeps serving.
    deadline = time.monotonic() + 15
    while len(_workers(master.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_workers(master.pid)) == 2
    open_attempt = Attempt.objects.filter(pk__in=confirmed, submitted_at__isnull=True).first()
    learner = open_attempt.learner
    reply = _request(port, "POST", f"/attempts/{open_attempt.pk}/", session=sessions[learner.pk],
                     fields=[("action", "submit"), *_fields(answers[open_attempt.pk])])
    assert reply.status == 302
    assert Attempt.objects.get(pk=open_attempt.pk).submitted_at is not None
