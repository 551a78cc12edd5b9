"""What `make bench` measures: one `Endpoint` per row of the table.

To measure another page or endpoint, add an `Endpoint` to `ENDPOINTS`: a
key (the JSON name), a label, and `build(ctx)` returning a request source,
or a string saying why it is not available (e.g. its URL name does not
resolve yet). `ctx.reverse()` returns None for a URL name that does not
exist, so an endpoint another app has not built yet shows as "n/a" with its
reason rather than failing the run.

Authenticated requests carry a session created for a seeded learner (see
run.py); each worker uses its own learner, so no two workers contend for one
learner's rows, as no two clinicians share an account.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.client import FORM, Req, Source


@dataclass
class Client:
    """One signed-in learner as the load sees them: cookies and a CSRF token."""

    user_id: int
    session_key: str
    csrf: str = field(default_factory=lambda: secrets.token_hex(16))  # 32 chars: an unmasked secret

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session_key}; csrftoken={self.csrf}"


@dataclass
class Context:
    origin: str  # e.g. https://127.0.0.1:8123, as a TLS-terminating proxy would forward it
    course: str
    lessons: list[str]
    readers: list[Client]
    viewers: list[tuple[Client, int]]  # learners with an open post-test attempt that is only viewed
    submitters: list[tuple[Client, int, list[tuple[str, str]]]]  # ... and one submitted, with its answers
    staff: Client | None
    certificates: list[tuple[Client, int]]
    api_token: str
    posttest_quiz_id: int
    reverse: Callable[..., str | None]

    def headers(self, client: Client | None, **extra) -> dict[str, str]:
        # X-Forwarded-Proto: production runs behind a TLS-terminating proxy (SECURE_PROXY_SSL_HEADER).
        headers = {"X-Forwarded-Proto": "https"}
        if client is not None:
            headers["Cookie"] = client.cookie
        headers.update(extra)
        return headers

    def form(self, client: Client, fields: list[tuple[str, str]]) -> tuple[dict[str, str], bytes]:
        body = urllib.parse.urlencode([("csrfmiddlewaretoken", client.csrf), *fields]).encode()
        return self.headers(client, **{"Content-Type": FORM, "Origin": self.origin}), body


@dataclass
class Endpoint:
    key: str
    label: str
    kind: str  # page | api | write | file | staff
    build: Callable[[Context], Source | str]
    target_ratio: float | None = None  # throughput at least this share of the floor
    target_p95_ms: float | None = None
    concurrency: int | None = None  # None: the run's concurrency
    interval_s: float | None = None  # paced: each client sends one request per interval
    floor: bool = True  # measure a floor page of the same size
    # Requests sent once each before the warmup, outside the row's timings (their errors
    # count): the work the server does once per resource and then keeps (a certificate's
    # PDF is drawn on its first download and stored), so the row measures what its label says.
    prime: Callable[[Context], list[Req]] | None = None
    # How many of those once-only results the server made since a time: 0 while a
    # primed row is measured (run.py records it; the smoke test holds it to 0).
    made_since: Callable[[Context, dt.datetime], int] | None = None


def _readers_get(ctx: Context, path_of: Callable[[int, int], str], *, accept: str | None = None) -> Source:
    def source(w: int, i: int) -> Req:
        client = ctx.readers[w % len(ctx.readers)]
        extra = {"Accept": accept} if accept else {}
        return Req("GET", path_of(w, i), ctx.headers(client, **extra))

    return source


def catalogue(ctx: Context) -> Source | str:
    path = ctx.reverse("curriculum:catalogue")
    return _readers_get(ctx, lambda w, i: path) if path else "no curriculum:catalogue URL"


def course_page(ctx: Context) -> Source | str:
    path = ctx.reverse("curriculum:course_detail", ctx.course)
    return _readers_get(ctx, lambda w, i: path) if path else "no curriculum:course_detail URL"


def lesson_page(ctx: Context) -> Source | str:
    paths = [ctx.reverse("curriculum:lesson_detail", ctx.course, slug) for slug in ctx.lessons]
    if not paths or None in paths:
        return "no curriculum:lesson_detail URL"
    return _readers_get(ctx, lambda w, i: paths[(w + i) % len(paths)])


def attempt_page(ctx: Context) -> Source | str:
    if not ctx.viewers or not ctx.reverse("quizzes:attempt_detail", 1):
        return "no open attempts to view, or no quizzes:attempt_detail URL"
    paths = [(client, ctx.reverse("quizzes:attempt_detail", pk)) for client, pk in ctx.viewers]

    def source(w: int, i: int) -> Req:
        client, path = paths[w % len(paths)]
        return Req("GET", path, ctx.headers(client))

    return source


def attempt_submit(ctx: Context) -> Source | str:
    """Each request submits a different learner's open post-test attempt (one use each)."""
    if not ctx.submitters or not ctx.reverse("quizzes:attempt_detail", 1):
        return "no open attempts to submit, or no quizzes:attempt_detail URL"
    pool = iter(ctx.submitters)

    def source(w: int, i: int) -> Req | None:
        entry = next(pool, None)
        if entry is None:
            return None
        client, pk, answers = entry
        headers, body = ctx.form(client, [("action", "submit"), *answers])
        return Req("POST", ctx.reverse("quizzes:attempt_detail", pk), headers, body, expect=(302,))

    return source


def dashboard(ctx: Context) -> Source | str:
    path = ctx.reverse("quizzes:dashboard")
    return _readers_get(ctx, lambda w, i: path) if path else "no quizzes:dashboard URL"


def _api(name: str, *args, token: bool = False) -> Callable[[Context], Source | str]:
    def build(ctx: Context) -> Source | str:
        path = ctx.reverse(name, *args)
        if not path:
            return f"no {name} URL"
        if not token:
            return _readers_get(ctx, lambda w, i: path, accept="application/json")
        if not ctx.api_token:
            return "no integration token (lms tables not migrated?)"
        headers = ctx.headers(None, Authorization=f"Bearer {ctx.api_token}", Accept="application/json")
        return lambda w, i: Req("GET", path, headers)

    return build


def api_lesson(ctx: Context) -> Source | str:
    paths = [ctx.reverse("v1:lesson-detail", ctx.course, slug) for slug in ctx.lessons]
    if not paths or None in paths:
        return "no v1:lesson-detail URL"
    return _readers_get(ctx, lambda w, i: paths[(w + i) % len(paths)], accept="application/json")


# Candidate URL names for the certificate PDF (#6 is building it); the first that resolves is used.
CERTIFICATE_PDF_NAMES = ("credits:certificate_pdf", "credits:certificate_download", "credits:certificate-pdf")


def certificate_pdf(ctx: Context) -> Source | str:
    if not ctx.certificates:
        return "no certificates seeded"
    client, pk = ctx.certificates[0]
    name = next((n for n in CERTIFICATE_PDF_NAMES if ctx.reverse(n, pk)), None)
    if name is None:
        return "no certificate PDF URL yet (" + ", ".join(CERTIFICATE_PDF_NAMES) + ")"
    paths = [(client, ctx.reverse(name, pk)) for client, pk in ctx.certificates]

    def source(w: int, i: int) -> Req:
        client, path = paths[(w + i) % len(paths)]
        return Req("GET", path, ctx.headers(client))

    return source


def certificate_pdf_prime(ctx: Context) -> list[Req]:
    """Every certificate the row downloads, once: each is drawn and stored on its first download.

    The stored PDF is keyed by its verification URL, which names this run's
    port, so even a `--reuse` run draws them all again. Unprimed, the row's
    64 first downloads (about 150 ms of CPU each) fell in its measured
    seconds and made it a mix of drawing and serving.
    """
    source = certificate_pdf(ctx)
    return [] if isinstance(source, str) else [source(0, i) for i in range(len(ctx.certificates))]


def certificate_pdfs_drawn_since(ctx: Context, since: dt.datetime) -> int:
    """How many of the row's certificates had their PDF drawn (and stored) at or after `since`."""
    from credits.models import CertificatePdf

    return CertificatePdf.objects.filter(
        certificate_id__in=[pk for _, pk in ctx.certificates], rendered_at__gte=since
    ).count()


def item_analysis_page(ctx: Context) -> Source | str:
    path = ctx.reverse("quizzes:item_analysis", ctx.posttest_quiz_id)
    if not path or ctx.staff is None:
        return "no quizzes:item_analysis URL"
    headers = ctx.headers(ctx.staff)
    return lambda w, i: Req("GET", path, headers)


ENDPOINTS: list[Endpoint] = [
    Endpoint("catalogue", "catalogue page", "page", catalogue),
    Endpoint("course", "course page", "page", course_page),
    Endpoint("lesson", "lesson page (signed in)", "page", lesson_page, target_ratio=0.35),
    Endpoint("attempt_page", "quiz attempt page", "page", attempt_page),
    Endpoint("attempt_submit", "quiz submission", "write", attempt_submit, target_p95_ms=50.0),
    # The same at a pace: 32 clinicians each submitting every 2 s (16 submissions/s offered), and alone.
    Endpoint("attempt_submit_paced", "quiz submission, 32 paced (16/s)", "write", attempt_submit,
             target_p95_ms=50.0, interval_s=2.0, floor=False),
    Endpoint("attempt_submit_1", "quiz submission, 1 client", "write", attempt_submit, concurrency=1, floor=False),
    Endpoint("dashboard", "learner dashboard", "page", dashboard),
    Endpoint("api_courses", "API GET /api/v1/courses/", "api", _api("v1:course-list"), target_ratio=0.35),
    Endpoint("api_lesson", "API GET /api/v1/courses/…/lessons/…/", "api", api_lesson, target_ratio=0.35),
    Endpoint("api_my_progress", "API GET /api/v1/me/progress/", "api", _api("v1:my-progress-list"),
             target_ratio=0.35),
    Endpoint("api_progress_feed", "API GET /api/v1/progress/ (token)", "api",
             _api("v1:progress-feed-list", token=True), target_ratio=0.35),
    Endpoint("api_completion_feed", "API GET /api/v1/completions/ (token)", "api",
             _api("v1:completion-feed-list", token=True), target_ratio=0.35),
    Endpoint("api_certificate_feed", "API GET /api/v1/certificates/ (token)", "api",
             _api("v1:certificate-feed-list", token=True), target_ratio=0.35),
    Endpoint("certificate_pdf", "certificate PDF (stored)", "file", certificate_pdf,
             prime=certificate_pdf_prime, made_since=certificate_pdfs_drawn_since),
    # A few authors read it, not 32 at once: two clients.
    Endpoint("item_analysis_page", "item analysis page (staff, 2 clients)", "staff", item_analysis_page,
             concurrency=2),
]
