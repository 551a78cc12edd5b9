"""CPU time per request, by process group: the gunicorn workers, their PostgreSQL backends, the client.

Throughput on a shared machine moves with whatever else runs; the CPU time a
request costs does not (much). On a CPU-bound server, throughput is about
cores / CPU-seconds per request, so `floor CPU / page CPU` estimates the floor
ratio the page would reach on a dedicated machine, and `cores / CPU per
request` its throughput there. Read from /proc (Linux); PostgreSQL's shared
background processes (WAL writer, checkpointer) are not counted. When the
server uses Redis (sessions, the signed-in user, throttles), the Redis server's
CPU is counted with the database's (`cache_pid`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat and stat[0] == parent:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    def __init__(self, *, server_pid: int, dsn: str, cache_pid: int | None = None):
        import psycopg

        self.server_pid = server_pid
        self.cache_pid = cache_pid
        self.conn = psycopg.connect(dsn, autocommit=True)

    def snapshot(self) -> dict:
        app = {pid: s[1] for pid in [self.server_pid, *_children(self.server_pid)] if (s := _stat(pid))}
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        db = {pid: s[1] for (pid,) in rows if (s := _stat(pid))}
        if self.cache_pid and (s := _stat(self.cache_pid)):
            db[self.cache_pid] = s[1]
        return {"app": app, "db": db, "client": time.process_time()}

    @staticmethod
    def per_request(before: dict, after: dict, requests: int) -> dict:
        """CPU milliseconds per request between two snapshots (new processes count from zero)."""
        if not requests:
            return {}

        def spent(group: str) -> float:
            return sum(max(0.0, cpu - before[group].get(pid, 0.0)) for pid, cpu in after[group].items())

        app, db, client = spent("app"), spent("db"), after["client"] - before["client"]
        scale = 1000 / requests
        return {
            "app_ms": round(app * scale, 3),
            "db_ms": round(db * scale, 3),
            "client_ms": round(client * scale, 3),
            "total_ms": round((app + db + client) * scale, 3),
        }

    def close(self) -> None:
        self.conn.close()


def _machine_times() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat, or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal (guest time is counted in user already)
    ticks = [int(value) for value in fields[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def machine_busy(window: float) -> float | None:
    """The share of the machine's cores busy (with anything) over the next `window` seconds."""
    before = _machine_times()
    time.sleep(window)
    after = _machine_times()
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def wait_until_quiet(*, threshold: float, timeout: float, window: float = 2.0, log=print) -> dict:
    """Wait, at most `timeout` seconds, for the cores to be at most `threshold` busy over a `window`.

    The load average cannot say this: it decays over minutes, so just after the
    seed and the in-process profiling (both cores busy) it reads 1.5-2 on an
    idle machine. Returns the busy share last measured and the seconds waited.
    """
    started = time.monotonic()
    busy = machine_busy(window)
    while busy is not None and busy > threshold and time.monotonic() - started + window <= timeout:
        log(f"waiting for the cores to go quiet: {busy:.0%} busy over the last {window:.0f} s")
        busy = machine_busy(window)
    return {"busy": None if busy is None else round(busy, 3), "threshold": threshold,
            "waited_s": round(time.monotonic() - started, 1)}
