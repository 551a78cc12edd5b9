"""The journey as a locust user: a clinician from sign-in to certificate (issue #8).

Run by `bench.journey.run_journeys` as `locust --headless` in its own
process (locust's gevent patches the standard library, which the
orchestrating process must not have). That process writes the plan as JSON
to the file named by `BENCH_JOURNEY_PLAN`; this file writes the summary,
when the test stops, to the file named by `BENCH_JOURNEY_RESULT`.

Each user takes a fresh seeded account per journey through: the login page,
signing in (the real form, so the real password hash cost), the course page,
every lesson (read, then "mark complete and continue"), the post-test (open,
start, the attempt page, each answer saved through the API as the page's
script does, submit), the result, then, on a pass, the evaluation, the
claim, the certificate page and its PDF, and the dashboard. It answers from
the answer key with the plan's accuracy, as a prepared clinician would. A
journey still running when locust stops the users is abandoned, not counted.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from locust import FastHttpUser, events, task
from locust.exception import StopUser

SERVED = re.compile(r'name="served" value="([^"]+)"')
QUESTION = re.compile(r'name="q(\d+)" id="o(\d+)"')
ATTEMPT_URL = re.compile(r"/attempts/(\d+)/")
OBJECTIVE = re.compile(r'name="(objective_\d+)"')
CREDIT_TYPE = re.compile(r'name="credit_type" value="([a-z_0-9]+)"')
MAX_HOURS = re.compile(r"up to ([0-9.]+)")
CERTIFICATE_URL = re.compile(r"/certificates/(\d+)/")
# Credit types needing the fewest identifiers first (see credits.services.claim_input_problems).
CREDIT_PREFERENCE = ("completion", "ancc", "ama_pra_1", "acpe")
FORM = "application/x-www-form-urlencoded"

PLAN = json.loads(Path(os.environ["BENCH_JOURNEY_PLAN"]).read_text())
KEY = {int(version): frozenset(options) for version, options in PLAN["key"].items()}
EMAILS = iter(PLAN["emails"])  # shared by every user of this process (greenlets, one thread)
TALLY = {"completed": 0, "failed": 0, "passed": 0, "accounts_exhausted": False, "started": None}
USER_NUMBERS = itertools.count()


class StepFailed(Exception):
    pass


class Clinician(FastHttpUser):
    """One virtual clinician: journeys back to back, no think time, each on a fresh account."""

    network_timeout = 60.0
    connection_timeout = 10.0
    max_retries = 0

    def on_start(self) -> None:
        self.rng = random.Random(next(USER_NUMBERS))

    def csrf(self) -> str:
        return next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), "")

    def step(self, name: str, method: str, path: str, fields=None, expect=(200,), json_body=None) -> tuple[str, str]:
        """One step's request (a form's `fields`, or `json_body` as the page's script sends it),
        reported to locust under the step's name; returns (body, Location). A status other than
        `expect` or a broken connection is a failure, and ends the journey."""
        headers = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of production sends
        # The server's cookies are Secure, and the jar keeps them but sends none over plain HTTP: they are
        # sent from the jar by hand, as a browser behind that proxy would send them.
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.client.cookiejar)
        if cookies:
            headers["Cookie"] = cookies
        body = None
        if fields is not None:
            body = urllib.parse.urlencode([("csrfmiddlewaretoken", self.csrf()), *fields])
            headers.update({"Content-Type": FORM, "Origin": PLAN["origin"]})
        elif json_body is not None:
            body = json.dumps(json_body)
            headers.update({"Content-Type": "application/json", "Origin": PLAN["origin"], "X-CSRFToken": self.csrf()})
        with self.client.request(method, path, name=name, data=body, headers=headers, allow_redirects=False,
                                 catch_response=True) as response:
            status = response.status_code
            text = (response.content or b"").decode("utf-8", "replace")  # no charset sniffing (the PDF)
            if status not in expect:
                detail = f"{response.error!r}" if response.error and not status else f"HTTP {status}: {text[:160]!r}"
                response.failure(f"{method} {path}: {detail}")
                raise StepFailed(name)
            response.success()
            return text, response.headers.get("Location", "") if response.headers else ""

    @task
    def journey(self) -> None:
        email = next(EMAILS, None)
        if email is None:
            TALLY["accounts_exhausted"] = True
            raise StopUser()
        self.client.cookiejar.clear()
        try:
            self.take(email)
        except StepFailed:
            TALLY["failed"] += 1
            return
        TALLY["completed"] += 1

    def take(self, email: str) -> None:
        p = PLAN
        self.step("login page", "GET", p["login_path"])
        self.step("sign in", "POST", p["login_path"],
                  [("username", email), ("password", p["password"]), ("next", p["course_path"])], expect=(302,))
        self.step("course page", "GET", p["course_path"])
        for path in p["lesson_paths"]:
            page, _ = self.step("lesson page", "GET", path)
            served = SERVED.search(page)
            self.step("complete lesson", "POST", path + "complete/",
                      [("served", served.group(1) if served else ""), ("then", "next")], expect=(302,))
        self.step("post-test page", "GET", p["posttest_path"])
        _, location = self.step("start post-test", "POST", p["posttest_start_path"], [], expect=(302,))
        match = ATTEMPT_URL.search(location)
        if not match:
            raise StepFailed("start post-test")
        attempt_path = f"/attempts/{match.group(1)}/"
        form, _ = self.step("attempt page", "GET", attempt_path)
        options: dict[int, list[int]] = defaultdict(list)
        for version, option in QUESTION.findall(form):
            options[int(version)].append(int(option))
        answers = []
        for version, shown in options.items():
            correct = KEY.get(version, frozenset())
            if self.rng.random() < p["accuracy"] and correct:
                picked = sorted(correct)
            else:
                picked = [next((o for o in shown if o not in correct), shown[0])]
            answers += [(f"q{version}", str(o)) for o in picked]
            if p["answers_path"]:
                # The page's script saves each answer as it is chosen (static/js/quiz-autosave.js).
                self.step("save answer", "PUT", p["answers_path"].format(id=match.group(1)),
                          json_body={"answers": [{"question": version, "options": picked}]})
        self.step("submit post-test", "POST", attempt_path, [("action", "submit"), *answers], expect=(302,))
        result, _ = self.step("result page", "GET", attempt_path + "result/")
        if "You passed." in result:
            TALLY["passed"] += 1
            if p["evaluation_path"] and p["claim_path"]:
                self.credit()
        self.step("dashboard", "GET", p["dashboard_path"])

    def credit(self) -> None:
        """Fill the evaluation, claim credit, open the certificate and download its PDF."""
        p = PLAN
        form, _ = self.step("evaluation page", "GET", p["evaluation_path"])
        ratings = [(name, "5") for name in dict.fromkeys(OBJECTIVE.findall(form))]
        self.step("submit evaluation", "POST", p["evaluation_path"],
                  [*ratings, ("practice_change", "will_change"), ("perceived_bias", "no")], expect=(302,))
        form, _ = self.step("claim page", "GET", p["claim_path"])
        offered = CREDIT_TYPE.findall(form)
        credit_type = next((t for t in CREDIT_PREFERENCE if t in offered), offered[0] if offered else "")
        hours = MAX_HOURS.search(form)
        _, location = self.step("claim credit", "POST", p["claim_path"], [
            ("credit_type", credit_type), ("hours", hours.group(1) if hours else "1.00"),
            ("full_name", "Bench Clinician, MD"), ("given_name", "Bench"), ("family_name", "Clinician"),
            ("nabp_eprofile_id", "1234567"), ("birth_month", "1"), ("birth_day", "15"), ("attested", "on"),
        ], expect=(302,))
        match = CERTIFICATE_URL.search(location)
        if not match:
            raise StepFailed("claim credit")
        certificate = f"/certificates/{match.group(1)}/"
        self.step("certificate page", "GET", certificate)
        self.step("certificate PDF", "GET", certificate + "pdf/")


@events.test_start.add_listener
def _started(environment, **_kwargs) -> None:
    TALLY["started"] = time.perf_counter()


@events.test_stop.add_listener
def _stopped(environment, **_kwargs) -> None:
    """Write locust's per-step statistics and the journey tally for the orchestrating process."""
    elapsed = time.perf_counter() - TALLY["started"] if TALLY["started"] else 0.0
    samples: dict[str, list[str]] = defaultdict(list)
    for error in environment.stats.errors.values():
        samples[error.name].append(f"{error.error} (x{error.occurrences})"[:300])
    steps = {}
    for entry in environment.stats.entries.values():
        steps[entry.name] = {
            "requests": entry.num_requests,
            "errors": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.50) if entry.num_requests else None,
            "p95_ms": entry.get_response_time_percentile(0.95) if entry.num_requests else None,
            "p99_ms": entry.get_response_time_percentile(0.99) if entry.num_requests else None,
            "error_samples": samples[entry.name][:5],
        }
    Path(os.environ["BENCH_JOURNEY_RESULT"]).write_text(json.dumps({
        "completed": TALLY["completed"],
        "failed": TALLY["failed"],
        "passed_posttest": TALLY["passed"],
        "seconds": round(elapsed, 1),
        "accounts_exhausted": TALLY["accounts_exhausted"],
        "steps": steps,
    }))
