"""Fixtures for the xAPI tests: a REAL LRS (Ralph) on loopback, and a learner's
journey through a small course that produces every kind of learner event.

Ralph (`ralph-malph[lrs,cli]`, pinned in requirements-dev.txt with `requests`,
which it imports but does not declare) is installed in the project's venv:
it conflicts with none of our pins (checked with `pip install --dry-run`).
The fixture runs it as its docs describe, configured only by environment
variables (ralph/conf.py, ralph/backends/lrs/fs.py):

- `ralph auth -u … -p … -s all -A <name> <homePage> -w` writes a bcrypt
  credential to RALPH_AUTH_FILE (HTTP Basic is its default auth backend);
- uvicorn serves `ralph.api:app` with RALPH_RUNSERVER_BACKEND=fs, storing
  statements as JSON lines under RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH
  (a temp dir), through `ralph_serve.py`, which fixes one Ralph 5.1.0 bug:
  its file backend could store only one statement (see that module);
- the working directory is the temp dir too, so no stray `.env` is read.

(`ralph runserver` would do the same but with uvicorn's reloader, a second
process that outlives a plain terminate; so uvicorn is started directly.)

The server is started once per session on a free port; `lrs` empties its
store before each test (the file backend reads the file on every query), so
ids reused by a rolled-back SQLite test database never collide. `stop()` and
`start()` let a test take the LRS down mid-run; it comes back on the same
port with the same store.

"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

from tests.httpd import free_port

PROJECT = Path(__file__).resolve().parents[3]


@dataclass
class RalphServer:
    root: Path
    port: int = field(default_factory=free_port)
    key: str = "lms-test"
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    process: subprocess.Popen | None = None
    log: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def xapi_url(self) -> str:
        return f"{self.base_url}/xAPI/"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RALPH_")}
        env.update({
            "RALPH_APP_DIR": str(self.root / "app"),
            "RALPH_AUTH_FILE": str(self.root / "auth.json"),
            "RALPH_HISTORY_FILE": str(self.root / "history.json"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.data_dir),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(self.data_dir),
        })
        return env

    def create_credentials(self) -> None:
        ralph = Path(sys.executable).parent / "ralph"
        subprocess.run(
            [str(ralph), "auth", "-u", self.key, "-p", self.secret, "-s", "all",
             "-A", self.key, "https://lrs-tests.example.org", "-w"],
            cwd=self.root, env=self.env(), check=True, capture_output=True, timeout=120,
        )

    def start(self, timeout: float = 60) -> None:
        assert self.process is None, "already running"
        self.data_dir.mkdir(exist_ok=True)
        self.log = (self.root / "ralph.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.lms.xapi.ralph_serve", str(self.port)],
            cwd=self.root, env={**self.env(), "PYTHONPATH": str(PROJECT)}, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ralph exited: {(self.root / 'ralph.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/__heartbeat__", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"ralph did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        self.log.close()

    def clear(self) -> None:
        for path in self.data_dir.glob("*.jsonl"):
            path.unlink()

    def _get(self, url: str) -> dict:
        request = urllib.request.Request(url, headers={
            "X-Experience-API-Version": "1.0.3",
            "Authorization": "Basic " + _basic(self.key, self.secret),
        })
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def statements(self, page_size: int = 50) -> list[dict]:
        """Every statement the LRS holds, following `more` pages."""
        found: list[dict] = []
        url = f"{self.xapi_url}statements?limit={page_size}"
        while url:
            page = self._get(url)
            found.extend(page["statements"])
            more = page.get("more")
            url = (self.base_url + more if more.startswith("/") else more) if more else ""
        return found

    def statement(self, statement_id: str) -> dict | None:
        page = self._get(f"{self.xapi_url}statements?statementId={statement_id}")
        statements = page.get("statements", [page])
        return statements[0] if statements else None


def _basic(key: str, secret: str) -> str:
    return base64.b64encode(f"{key}:{secret}".encode()).decode()


@pytest.fixture(scope="session")
def ralph_server(tmp_path_factory):
    """A real Ralph LRS for the session; stopped at the end whatever happened."""
    server = RalphServer(root=tmp_path_factory.mktemp("ralph"))
    server.create_credentials()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ralph(ralph_server):
    """The session's Ralph, running and empty at the start of the test."""
    if ralph_server.process is None:
        ralph_server.start()
    ralph_server.clear()
    yield ralph_server
    if ralph_server.process is None:  # a test that stopped it and failed before restarting
        ralph_server.start()


@pytest.fixture
def lrs(ralph):
    from lms.xapi.client import Lrs

    return Lrs(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret, timeout=5)


# --- a learner's journey: every kind of event, from the services that record them ------------


@dataclass
class Journey:
    learner: object
    organisation: object
    endpoint: object
    activity: object
    events: list

    def event(self, verb: str, model: str, n: int = 0):
        matching = [e for e in self.events if e.verb == verb and e.object_ref.startswith(model + ":")]
        return matching[n]


def journey_make(*, url: str = "http://127.0.0.1:9/xAPI/", key: str = "k", secret: str = "s",  # noqa: S107
                 identify_by_email: bool = False) -> Journey:
    """A learner of an organisation (known there as 'emp-0042') who opens and
    completes two lessons, fails (every answer wrong) then passes (every answer
    right) the post-test, evaluates the activity and claims credit."""
    from credits import services as credit_services
    from curriculum import services as curriculum_services
    from curriculum.models import LearnerEvent, Lesson, Objective
    from lms.xapi.models import LrsEndpoint
    from quizzes import services as quiz_services
    from quizzes.grading import Answer
    from quizzes.models import Quiz
    from tests.credits.factories import activity_with_course, claim_input, evaluation_submit
    from tests.factories import UserFactory
    from tests.lms.factories import ExternalLearnerFactory, OrganisationFactory
    from tests.quizzes.factories import ItemVersionFactory, key_of

    learner = UserFactory()
    organisation = OrganisationFactory()
    ExternalLearnerFactory(organisation=organisation, user=learner, external_id="emp-0042")
    endpoint = LrsEndpoint.objects.create(
        organisation=organisation, url=url, key=key, secret=secret,
        actor_home_page="https://lms.hospital.example.org", identify_by_email=identify_by_email,
    )
    activity = activity_with_course(n_lessons=2, posttest=False)
    course = activity.course
    lessons = list(Lesson.objects.filter(course=course).order_by("position"))
    for lesson in lessons:
        curriculum_services.lesson_progress_open(learner=learner, lesson=lesson)
        # Time on page runs from the page's signed, timestamped token: sign it 754 s ago.
        with mock.patch("django.core.signing.time.time", return_value=time.time() - 754):
            token = curriculum_services.lesson_served_token(lesson=lesson)
        curriculum_services.lesson_progress_complete(learner=learner, lesson=lesson, served_token=token, max_minutes=60)

    quiz = Quiz.objects.create(course=course, kind=Quiz.Kind.POSTTEST, title="Post-test")
    for lesson in lessons:
        ItemVersionFactory(item__course=course, item__pools=["posttest"], lesson=lesson,
                           objective=Objective.objects.filter(lesson=lesson).first())
    for right in (False, True):
        attempt = quiz_services.attempt_start(learner=learner, quiz=quiz)
        key = key_of(attempt)
        answers = [
            Answer(e["version"], frozenset(key[e["version"]]["correct"] if right else {min(key[e["version"]]["wrong"])}))
            for e in attempt.layout
        ]
        quiz_services.attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
    # Grading recorded one "answered" event per question of each attempt (quizzes.services).

    evaluation_submit(learner, activity)
    credit_services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input())
    events = list(LearnerEvent.objects.filter(learner=learner).order_by("pk"))
    return Journey(learner=learner, organisation=organisation, endpoint=endpoint, activity=activity, events=events)


@pytest.fixture
def journey(db):
    return journey_make()


@pytest.fixture
def ralph_journey(db, ralph):
    return journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
