"""The journey: simulated clinicians take the course from sign-in to certificate, end to end.

The clinicians are locust users (`bench/locustfile.py`), run by locust in
headless mode in a process of their own, bounded in users, spawn rate and
time: `users` clinicians started over `ramp_up` seconds, stopped at
`duration`. Each takes fresh seeded accounts through the whole course; the
steps are in the locustfile. Locust's statistics give each step's
requests, failures and percentiles (locust keeps response times in buckets:
to the millisecond under 100 ms, to 10 ms under 1 s, to 100 ms above); the
locustfile adds the journeys completed, failed and passed. A journey still
running when locust stops the users is abandoned, not counted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclasses.dataclass
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


def run_journeys(plan: JourneyPlan, *, users: int, duration: float, ramp_up: float = 10.0) -> dict:
    """Run locust headless against `plan.base` and return the journey's summary for the report.

    Users start at `users / ramp_up` a second, so they do not all hash their
    password in the same second. Locust runs in its own process (gevent
    patches the standard library); a locust that does not finish within a
    minute of `duration` is killed and its run counts as an error.
    """
    seconds = max(1, round(duration))
    with tempfile.TemporaryDirectory(prefix="bench-journey-") as tmp:
        plan_file, result_file = Path(tmp) / "plan.json", Path(tmp) / "result.json"
        data = dataclasses.asdict(plan)
        data["key"] = {str(version): sorted(options) for version, options in plan.key.items()}
        plan_file.write_text(json.dumps(data))
        env = {**os.environ, "BENCH_JOURNEY_PLAN": str(plan_file), "BENCH_JOURNEY_RESULT": str(result_file)}
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--users", str(users), "--spawn-rate", f"{users / max(ramp_up, 0.1):.3f}",
            "--run-time", f"{seconds}s", "--stop-timeout", "0", "--host", plan.base,
            "--loglevel", "WARNING", "--exit-code-on-error", "0",
        ]
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)  # noqa: S603
        except subprocess.TimeoutExpired as exc:
            return _failed_run(f"locust did not stop within a minute of its {seconds} s: {exc}")
        if done.returncode != 0 or not result_file.exists():
            return _failed_run(f"locust exited {done.returncode}: {(done.stderr or done.stdout)[-600:]}")
        result = json.loads(result_file.read_text())
    minutes = result["seconds"] / 60
    result["journeys_per_minute"] = round(result["completed"] / minutes, 1) if minutes else 0.0
    result["errors"] = sum(step["errors"] for step in result["steps"].values()) + result["failed"]
    result["load_generator"] = "locust (FastHttpUser), headless"
    return result


def _failed_run(reason: str) -> dict:
    return {"completed": 0, "failed": 0, "passed_posttest": 0, "seconds": 0.0, "journeys_per_minute": 0.0,
            "errors": 1, "accounts_exhausted": False, "steps": {}, "error": reason}
