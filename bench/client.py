"""The load client: closed-loop asyncio workers over aiohttp, with latency statistics.

A closed loop: each of `concurrency` workers sends its next request as soon
as the previous answer has been read, so the server always has `concurrency`
requests in hand. Every loop is bounded twice, by a deadline and by a request
count, and stops by itself. Redirects are not followed (a form post is
measured alone), and every answer's status is checked against what the
endpoint should return: anything else, a timeout or a broken connection is
an error, kept with a sample for the report.

Cookies are sent as a prepared header rather than through a cookie jar: each
virtual client holds its own session, and nothing is shared by accident.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

FORM = "application/x-www-form-urlencoded"


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect: tuple[int, ...] = (200,)


# A source gives worker `w` its `i`-th request, or None when it has no more (a used-up pool).
Source = Callable[[int, int], "Req | None"]


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Recorder:
    latencies: list[float] = field(default_factory=list)  # seconds, successful and failed alike
    sizes: list[int] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    exhausted: bool = False

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(message[:300])

    def merge(self, other: Recorder) -> Recorder:
        """This recording and another of the same load, as one (their times add up)."""
        self.latencies += other.latencies
        self.sizes += other.sizes
        self.statuses.update(other.statuses)
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:5]
        self.elapsed += other.elapsed
        self.exhausted = self.exhausted or other.exhausted
        return self

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        n = len(lat)

        def ms(value):
            return None if value is None else round(value * 1000, 2)

        return {
            "requests": n,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "seconds": round(self.elapsed, 3),
            "rps": round(n / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": ms(percentile(lat, 0.50)),
            "p95_ms": ms(percentile(lat, 0.95)),
            "p99_ms": ms(percentile(lat, 0.99)),
            "max_ms": ms(lat[-1] if lat else None),
            "mean_bytes": round(sum(self.sizes) / len(self.sizes)) if self.sizes else 0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "pool_exhausted": self.exhausted,
        }


def new_session(*, concurrency: int, keepalive: bool, timeout: float = 30.0) -> aiohttp.ClientSession:
    # gunicorn's sync workers close every connection (they expect a proxy in front); with
    # them, reusing one would only race the close, so each request opens its own.
    connector = aiohttp.TCPConnector(limit=concurrency + 4, force_close=not keepalive, ttl_dns_cache=None)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=timeout),
        auto_decompress=False,
    )


async def send(session: aiohttp.ClientSession, base: str, req: Req) -> tuple[int, bytes, aiohttp.ClientResponse]:
    async with session.request(
        req.method, base + req.path, headers=req.headers, data=req.body, allow_redirects=False
    ) as response:
        body = await response.read()
        return response.status, body, response


async def closed_loop(
    base: str,
    source: Source,
    *,
    concurrency: int,
    duration: float,
    max_requests: int,
    keepalive: bool,
    record: bool = True,
    interval: float | None = None,
) -> Recorder:
    """Run `concurrency` workers until `duration` seconds pass, `max_requests` are sent, or the source ends.

    With `interval`, each worker starts at most one request per `interval` seconds (a paced
    client, as a clinician who reads before answering), staggered so arrivals spread evenly.
    """
    rec = Recorder()
    deadline = time.perf_counter() + duration
    sent = 0

    async def worker(w: int, session: aiohttp.ClientSession) -> None:
        nonlocal sent
        i = 0
        next_at = time.perf_counter() + (interval * w / concurrency if interval else 0.0)
        while time.perf_counter() < deadline and sent < max_requests:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
                if time.perf_counter() >= deadline:
                    return
            req = source(w, i)
            i += 1
            if req is None:
                rec.exhausted = True
                return
            sent += 1
            t0 = time.perf_counter()
            try:
                status, body, _ = await send(session, base, req)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                if record:
                    rec.latencies.append(time.perf_counter() - t0)
                    rec.error(f"{req.method} {req.path}: {type(exc).__name__}: {exc}")
                continue
            if not record:
                continue
            rec.latencies.append(time.perf_counter() - t0)
            rec.sizes.append(len(body))
            rec.statuses[status] += 1
            if status not in req.expect:
                rec.error(f"{req.method} {req.path}: HTTP {status}: {body[:160]!r}")

    async with new_session(concurrency=concurrency, keepalive=keepalive) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(w, session) for w in range(concurrency)))
        rec.elapsed = time.perf_counter() - start
    return rec


async def one(base: str, req: Req, *, keepalive: bool) -> tuple[int, bytes]:
    """A single request (preflight): its status and body."""
    async with new_session(concurrency=1, keepalive=keepalive) as session:
        status, body, _ = await send(session, base, req)
        return status, body
