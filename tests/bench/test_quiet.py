"""The benchmark waits for the cores to go quiet before the load, and says how busy they were.

The 1-minute load average cannot tell: just after the seed and the in-process
profiling (both cores busy) it reads 1.5-2 on an idle machine, so the run
warned of "other processes" that were its own past work, and could not tell
whether anything still shared the cores.
"""

import multiprocessing
import os
import time

import pytest

from bench import cpu


def _spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat (Linux)")
def test_machine_busy_sees_a_core_kept_busy():
    spinner = multiprocessing.get_context("spawn").Process(target=_spin, args=(4.0,))
    spinner.start()
    try:
        time.sleep(0.5)  # the spawned interpreter starts up, then spins
        busy = cpu.machine_busy(1.0)
    finally:
        spinner.terminate()
        spinner.join()
    # One spinning process keeps one core of os.cpu_count() busy; other work only adds.
    assert busy is not None
    assert 0.8 / os.cpu_count() <= busy <= 1.0


def test_wait_until_quiet_waits_for_the_cores_and_no_longer(monkeypatch):
    readings = iter([0.9, 0.6, 0.1, 0.9])
    windows = []

    def busy(window):
        windows.append(window)
        return next(readings)

    monkeypatch.setattr(cpu, "machine_busy", busy)
    logged = []
    quiet = cpu.wait_until_quiet(threshold=0.15, timeout=60, window=2.0, log=logged.append)
    assert quiet["busy"] == 0.1
    assert quiet["threshold"] == 0.15
    assert windows == [2.0, 2.0, 2.0]  # stopped at the first quiet reading
    assert logged == ["waiting for the cores to go quiet: 90% busy over the last 2 s",
                      "waiting for the cores to go quiet: 60% busy over the last 2 s"]


def test_wait_until_quiet_gives_up_at_its_timeout_and_reports_the_last_reading(monkeypatch):
    clock = [0.0]

    def busy(window):
        clock[0] += window
        return 0.7

    monkeypatch.setattr(cpu, "machine_busy", busy)
    monkeypatch.setattr(cpu.time, "monotonic", lambda: clock[0])
    quiet = cpu.wait_until_quiet(threshold=0.15, timeout=10, window=2.0, log=lambda _: None)
    assert quiet == {"busy": 0.7, "threshold": 0.15, "waited_s": 10.0}
    # A zero timeout measures once and does not wait.
    clock[0] = 0.0
    assert cpu.wait_until_quiet(threshold=0.15, timeout=0, window=0.5, log=lambda _: None)["waited_s"] == 0.5
