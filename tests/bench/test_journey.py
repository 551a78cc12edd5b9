"""The journey's harness counts what goes wrong: locust's failures reach the report.

`tests/bench/test_bench_smoke.py` runs whole journeys (PostgreSQL only) and
asserts zero errors; that only means something if a failing step is counted.
Here locust runs headless against the live test server with a plan whose
login page does not exist, so every journey fails at its first step.
"""

from bench.journey import JourneyPlan, run_journeys


def test_a_failing_step_is_counted_and_ends_the_journey(live_server):
    plan = JourneyPlan(
        base=live_server.url, origin=live_server.url, course_path="/courses/nowhere/", lesson_paths=[],
        posttest_path="/nowhere/", posttest_start_path="/nowhere/", dashboard_path="/dashboard/",
        login_path="/no-such-login-page/", emails=["one@example.org", "two@example.org"], password="x",
        key={},
    )

    result = run_journeys(plan, users=1, duration=2, ramp_up=0.1)

    assert "error" not in result, result.get("error")
    login = result["steps"]["login page"]
    assert login["requests"] == 2  # one a journey: each ended at its failed first step
    assert login["errors"] == 2
    assert any("HTTP 404" in sample for sample in login["error_samples"]), login["error_samples"]
    assert result["steps"].keys() == {"login page"}
    assert (result["completed"], result["failed"]) == (0, 2)
    assert result["accounts_exhausted"] is True
    assert result["errors"] == 4  # the failed requests and the failed journeys
    assert result["journeys_per_minute"] == 0.0
