"""The journey: simulated clinicians take the course from sign-in to result, end to end.

Each of `users` virtual clinicians repeatedly takes a fresh seeded account
through: the login page, signing in (the real form, so the real password
hash cost), the course page, every lesson (read, then "mark complete"), the
post-test (open, start, answer, submit), the result and the dashboard. It
answers from the answer key with a set accuracy, as a prepared clinician
would. Steps a later app adds (evaluation, claim, certificate) go in
`EXTRA_STEPS`. Bounded by users, time and the number of seeded accounts; a
journey still running at the deadline is abandoned and not counted.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp

from bench.client import FORM, Recorder, new_session

SERVED = re.compile(r'name="served" value="([^"]+)"')
QUESTION = re.compile(r'name="q(\d+)" id="o(\d+)"')
ATTEMPT_URL = re.compile(r"/attempts/(\d+)/")
OBJECTIVE = re.compile(r'name="(objective_\d+)"')
CREDIT_TYPE = re.compile(r'name="credit_type" value="([a-z_0-9]+)"')
MAX_HOURS = re.compile(r"up to ([0-9.]+)")
CERTIFICATE_URL = re.compile(r"/certificates/(\d+)/")
# Credit types needing the fewest identifiers first (see credits.services.claim_input_problems).
CREDIT_PREFERENCE = ("completion", "ancc", "ama_pra_1", "acpe")

# More steps at the end of a journey: ("name", async def step(journey) -> None) using journey.request().
EXTRA_STEPS: list = []


class StepFailed(Exception):
    pass


@dataclass
class JourneyPlan:
    base: str
    origin: str
    course_path: str
    lesson_paths: list[str]
    posttest_path: str
    posttest_start_path: str
    dashboard_path: str
    login_path: str
    emails: list[str]
    password: str
    key: dict[int, frozenset[int]]  # item version -> correct options
    evaluation_path: str | None = None  # credits (#6): None where those pages do not exist
    claim_path: str | None = None
    # The API's answer save with "{id}" for the attempt: each answer is PUT as it is chosen, as the
    # attempt page's script does; None sends the answers with the submit only, as without script.
    answers_path: str | None = None
    accuracy: float = 0.9


@dataclass
class JourneyResult:
    steps: dict[str, Recorder] = field(default_factory=lambda: defaultdict(Recorder))
    completed: int = 0
    failed: int = 0
    passed: int = 0
    elapsed: float = 0.0
    accounts_exhausted: bool = False

    def summary(self) -> dict:
        minutes = self.elapsed / 60 if self.elapsed else 0
        steps = {}
        for name, rec in self.steps.items():
            rec.elapsed = self.elapsed
            s = rec.summary()
            steps[name] = {k: s[k] for k in ("requests", "errors", "p50_ms", "p95_ms", "p99_ms", "error_samples")}
        return {
            "completed": self.completed,
            "failed": self.failed,
            "passed_posttest": self.passed,
            "seconds": round(self.elapsed, 1),
            "journeys_per_minute": round(self.completed / minutes, 1) if minutes else 0.0,
            "errors": sum(s["errors"] for s in steps.values()) + self.failed,
            "accounts_exhausted": self.accounts_exhausted,
            "steps": steps,
        }


class Journey:
    def __init__(self, plan: JourneyPlan, session: aiohttp.ClientSession, result: JourneyResult, rng: random.Random):
        self.plan, self.session, self.result, self.rng = plan, session, result, rng
        self.cookies: dict[str, str] = {}

    async def request(self, step: str, method: str, path: str, fields=None, expect=(200,),
                      json_body=None) -> tuple[str, str]:
        """Send one step's request (a form's `fields`, or `json_body` as the page's script sends it);
        returns (body, Location). Raises StepFailed on an unexpected answer."""
        headers = {"X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode([("csrfmiddlewaretoken", self.cookies.get("csrftoken", "")), *fields])
            headers.update({"Content-Type": FORM, "Origin": self.plan.origin})
        elif json_body is not None:
            body = json.dumps(json_body)
            headers.update({"Content-Type": "application/json", "Origin": self.plan.origin,
                            "X-CSRFToken": self.cookies.get("csrftoken", "")})
        rec = self.result.steps[step]
        t0 = time.perf_counter()
        try:
            async with self.session.request(method, self.plan.base + path, headers=headers, data=body,
                                            allow_redirects=False) as response:
                text = (await response.read()).decode("utf-8", "replace")
                status, location = response.status, response.headers.get("Location", "")
                for name, morsel in response.cookies.items():
                    self.cookies[name] = morsel.value
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            rec.latencies.append(time.perf_counter() - t0)
            rec.error(f"{method} {path}: {type(exc).__name__}: {exc}")
            raise StepFailed(step) from exc
        rec.latencies.append(time.perf_counter() - t0)
        rec.statuses[status] += 1
        if status not in expect:
            rec.error(f"{method} {path}: HTTP {status}: {text[:160]!r}")
            raise StepFailed(step)
        return text, location

    async def run(self, email: str) -> None:
        p = self.plan
        await self.request("login page", "GET", p.login_path)
        await self.request("sign in", "POST", p.login_path,
                           [("username", email), ("password", p.password), ("next", p.course_path)], expect=(302,))
        await self.request("course page", "GET", p.course_path)
        for path in p.lesson_paths:
            page, _ = await self.request("lesson page", "GET", path)
            served = SERVED.search(page)
            await self.request("complete lesson", "POST", path + "complete/",
                               [("served", served.group(1) if served else ""), ("then", "next")], expect=(302,))
        await self.request("post-test page", "GET", p.posttest_path)
        _, location = await self.request("start post-test", "POST", p.posttest_start_path, [], expect=(302,))
        match = ATTEMPT_URL.search(location)
        if not match:
            self.result.steps["start post-test"].error(f"no attempt in Location {location!r}")
            raise StepFailed("start post-test")
        attempt_path = f"/attempts/{match.group(1)}/"
        form, _ = await self.request("attempt page", "GET", attempt_path)
        options: dict[int, list[int]] = defaultdict(list)
        for version, option in QUESTION.findall(form):
            options[int(version)].append(int(option))
        answers = []
        for version, shown in options.items():
            correct = p.key.get(version, frozenset())
            if self.rng.random() < p.accuracy and correct:
                picked = sorted(correct)
            else:
                picked = [next((o for o in shown if o not in correct), shown[0])]
            answers += [(f"q{version}", str(o)) for o in picked]
            if p.answers_path:
                # The page's script saves each answer as it is chosen (static/js/quiz-autosave.js).
                await self.request("save answer", "PUT", p.answers_path.format(id=match.group(1)),
                                   json_body={"answers": [{"question": version, "options": picked}]})
        await self.request("submit post-test", "POST", attempt_path, [("action", "submit"), *answers],
                           expect=(302,))
        result, _ = await self.request("result page", "GET", attempt_path + "result/")
        passed = "You passed." in result
        self.result.passed += passed
        if passed and p.evaluation_path and p.claim_path:
            await self.credit()
        for _name, step in EXTRA_STEPS:
            await step(self)
        await self.request("dashboard", "GET", p.dashboard_path)

    async def credit(self) -> None:
        """Fill the evaluation, claim credit, open the certificate and download its PDF."""
        p = self.plan
        form, _ = await self.request("evaluation page", "GET", p.evaluation_path)
        ratings = [(name, "5") for name in dict.fromkeys(OBJECTIVE.findall(form))]
        await self.request("submit evaluation", "POST", p.evaluation_path,
                           [*ratings, ("practice_change", "will_change"), ("perceived_bias", "no")], expect=(302,))
        form, _ = await self.request("claim page", "GET", p.claim_path)
        offered = CREDIT_TYPE.findall(form)
        credit_type = next((t for t in CREDIT_PREFERENCE if t in offered), offered[0] if offered else "")
        hours = MAX_HOURS.search(form)
        _, location = await self.request("claim credit", "POST", p.claim_path, [
            ("credit_type", credit_type), ("hours", hours.group(1) if hours else "1.00"),
            ("full_name", "Bench Clinician, MD"), ("given_name", "Bench"), ("family_name", "Clinician"),
            ("nabp_eprofile_id", "1234567"), ("birth_month", "1"), ("birth_day", "15"), ("attested", "on"),
        ], expect=(302,))
        match = CERTIFICATE_URL.search(location)
        if not match:
            self.result.steps["claim credit"].error(f"no certificate in Location {location!r}")
            raise StepFailed("claim credit")
        certificate = f"/certificates/{match.group(1)}/"
        await self.request("certificate page", "GET", certificate)
        await self.request("certificate PDF", "GET", certificate + "pdf/")


async def run_journeys(
    plan: JourneyPlan, *, users: int, duration: float, keepalive: bool, ramp_up: float = 10.0
) -> JourneyResult:
    """Start `users` clinicians spread over `ramp_up` seconds (as locust's spawn rate does), so
    they do not all hash their password in the same second; stop them at `duration`."""
    result = JourneyResult()
    emails = iter(plan.emails)
    deadline = time.perf_counter() + duration

    async def user(u: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(u)
        await asyncio.sleep(ramp_up * u / users)
        while time.perf_counter() < deadline:
            email = next(emails, None)
            if email is None:
                result.accounts_exhausted = True
                return
            journey = Journey(plan, session, result, rng)
            try:
                await asyncio.wait_for(journey.run(email), timeout=max(0.1, deadline - time.perf_counter()))
            except TimeoutError:
                return  # the deadline fell mid-journey: abandoned, not counted
            except StepFailed:
                result.failed += 1
                continue
            result.completed += 1

    async with new_session(concurrency=users, keepalive=keepalive) as session:
        start = time.perf_counter()
        await asyncio.gather(*(user(u, session) for u in range(users)))
        result.elapsed = time.perf_counter() - start
    return result
