"""The benchmark keeps working: seed a tiny database, serve it, measure briefly, check the JSON.

Runs `python -m bench.run` in a subprocess (it creates and drops its own
database, bench_ce_pytest, on the PostgreSQL server of DATABASE_URL, and
starts its own gunicorn), so nothing here touches the test database. It
asserts the report's shape and that nothing failed, never a speed: it is a
smoke test of the harness, not a timed test.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

ENDPOINT_KEYS = {
    "label", "kind", "status", "target_ratio", "target_p95_ms",
}
MEASURED_KEYS = {
    "requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms", "mean_bytes", "concurrency", "statuses",
}


def _server_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"


@pytest.mark.postgres
def test_bench_smoke_writes_a_complete_report_without_errors(tmp_path):
    """A tiny run reports every endpoint, the journey, item analysis and the machine, with zero errors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--drop", "--database", "bench_ce_pytest",
         "--pg-url", _server_url(), "--output", str(tmp_path), "--duration", "1", "--warmup", "0.2",
         "--journey-seconds", "6",
         "--only", "catalogue,lesson,attempt_page,attempt_submit,dashboard,api_courses,certificate_pdf"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (path,) = tmp_path.glob("*.json")
    report = json.loads(path.read_text())

    assert {"schema", "machine", "settings", "seed", "loadavg", "cpu_busy_before_load", "endpoints", "profile",
            "journey", "item_analysis", "summary"} <= report.keys()
    # The smoke run measures how busy the cores were before the load but does not wait for them.
    assert 0 <= report["cpu_busy_before_load"]["busy"] <= 1
    assert report["cpu_busy_before_load"]["waited_s"] < 5
    assert "cores busy just before the load" in completed.stdout
    assert {"nproc", "cpu_model", "python", "postgresql", "django", "gunicorn"} <= report["machine"].keys()
    assert report["seed"]["counts"]["attempts"] > 0
    # The run says whether PostgreSQL compiled queries, as the settings ask (off unless DJANGO_DB_JIT).
    jit_off = "jit=off" in settings.DATABASES["default"].get("OPTIONS", {}).get("options", "")
    assert report["settings"]["postgresql_jit"] == ("off" if jit_off else "on")
    assert f"(JIT {report['settings']['postgresql_jit']})" in completed.stdout
    assert report["endpoints"].keys() == {"catalogue", "lesson", "attempt_page", "attempt_submit", "dashboard",
                                          "api_courses", "certificate_pdf"}
    for key, row in report["endpoints"].items():
        assert row.keys() >= ENDPOINT_KEYS, key
        assert row["status"] == "measured", (key, row.get("reason"))
        assert row.keys() >= MEASURED_KEYS, key
        assert row["requests"] > 0, key
        assert row["errors"] == 0, (key, row["error_samples"])
    assert report["endpoints"]["lesson"]["ratio"] > 0
    assert report["endpoints"]["lesson"]["floor"]["rps"] > 0
    # The stored-PDF row serves stored PDFs: every certificate it downloads was drawn before
    # it was measured (a first download draws one; unprimed, they all fell in the row).
    pdf = report["endpoints"]["certificate_pdf"]
    assert pdf["primed"]["requests"] > 0
    assert pdf["primed"]["errors"] == 0
    assert pdf["made_while_measured"] == 0
    journey = report["journey"]
    assert {"completed", "journeys_per_minute", "errors", "steps"} <= journey.keys()
    assert journey["errors"] == 0, journey["steps"]
    assert journey["completed"] > 0
    assert {"p95_ms", "requests"} <= journey["steps"]["submit post-test"].keys()
    # Each answer is saved as it is chosen, as the attempt page's script does: one PUT a question.
    saves, submits = journey["steps"]["save answer"]["requests"], journey["steps"]["submit post-test"]["requests"]
    assert saves >= submits > 0
    assert report["summary"]["errors"] == 0
    assert "targets:" in completed.stdout  # the table was printed
    # The seed says where it is (ten minutes at --scale 10 otherwise pass in silence).
    assert "seed: activity of every learner" in completed.stdout
    assert "seed: VACUUM (ANALYZE)" in completed.stdout
