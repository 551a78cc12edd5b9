"""The access matrix: every URL pattern, tried as anonymous, learner A, learner B, author and staff.

Every pattern the resolver knows (admin/ and static/ aside) must be classified
in MATRIX; a new endpoint without an entry fails the build. Path parameters are
filled with real objects owned by learner A. Learner B must never see A's
objects (404, never 200 or a 403 that leaks existence) nor any of A's data, and
B's writes to A's URLs must change nothing.

`matrix_problems()` is the checker; the harness self-test at the bottom mounts a
deliberately broken view and proves the checker reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.base import ContentFile
from django.http import JsonResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path
from django.utils import timezone

from accounts.models import User
from credits import services as credit_services
from credits.models import Certificate, Claim, Evaluation
from curriculum.models import Lesson, LessonProgress
from lms.models import Enrolment, ExportJob, ExternalLearner, LinkRequest
from quizzes import services as quiz_services
from quizzes.models import Attempt, Option, Quiz, Response
from tests.credits.factories import activity_with_course, claim_input, everything_complete
from tests.factories import UserFactory
from tests.lms.factories import ExternalLearnerFactory, OrganisationFactory
from tests.quizzes.factories import quiz_with_items

# --- classes -------------------------------------------------------------------------

PUBLIC = "public"  # anyone: 200 (or the entry's own `ok` statuses)
OWNED = "owned"  # one of A's objects in the path: A ok, B 404, anonymous to log-in
SELF = "self"  # the signed-in user's own page (no object id): anonymous to log-in, B sees none of A's data
STAFF = "staff"  # staff only: learners and anonymous refused, staff 200
# staff with a permission beyond is_staff (answer keys, a job's file): learners and anonymous
# refused, the author (staff without it) 403, the superuser 200
PERMISSION = "permission"
TOKEN = "token"  # integration-token or protocol endpoints (LTI, SCORM): no session role gets a 200 of private data
FALLBACK = "fallback"  # the API's catch-all 404

ROLES = ("anonymous", "learner_a", "learner_b", "author", "staff")
REFUSED = {HTTPStatus.FOUND, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.UNAUTHORIZED}
API_ANON = {HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}
LOGIN = "/accounts/login/"


@dataclass(frozen=True)
class Entry:
    cls: str
    kwargs: str = ""  # which path-parameter set (WORLD_KWARGS key) fills the pattern
    ok: frozenset = frozenset({HTTPStatus.OK})  # A's (or anyone's, for PUBLIC) acceptable GET status
    api: bool = False
    post: bool = False  # also try a POST as learner B (write check)


def E(cls, kwargs="", ok=(HTTPStatus.OK,), api=False, post=False):
    return Entry(cls, kwargs, frozenset(ok), api, post)


GET_ONLY_POST = (HTTPStatus.METHOD_NOT_ALLOWED,)  # a POST-only view answers GET with 405

MATRIX: dict[str, Entry] = {
    # accounts
    "accounts:signup": E(PUBLIC, ok=(200, 302)),  # a signed-in user is sent on
    "accounts:profile": E(SELF),
    "accounts:login": E(PUBLIC, ok=(200, 302)),
    "accounts:logout": E(PUBLIC, ok=GET_ONLY_POST),
    "accounts:password_reset": E(PUBLIC),
    "accounts:password_reset_done": E(PUBLIC),
    "accounts:password_reset_confirm": E(PUBLIC, kwargs="reset"),
    "accounts:password_reset_complete": E(PUBLIC),
    # organisation link requests: the addressed learner's own (lms/views.py)
    "lms_links:link_list": E(SELF),
    "lms_links:link_detail": E(OWNED, kwargs="link", post=True),
    # curriculum
    "curriculum:catalogue": E(PUBLIC),
    "curriculum:course_detail": E(PUBLIC, kwargs="course"),
    "curriculum:interaction_explorer": E(PUBLIC, kwargs="course", ok=(200, 404)),
    "curriculum:lesson_detail": E(PUBLIC, kwargs="lesson"),
    "curriculum:lesson_complete": E(SELF, kwargs="lesson", ok=GET_ONLY_POST + (302,)),
    # quizzes
    "quizzes:dashboard": E(SELF),
    "quizzes:quiz_detail": E(SELF, kwargs="quiz"),
    "quizzes:quiz_start": E(SELF, kwargs="quiz", ok=GET_ONLY_POST + (302,)),
    "quizzes:check_detail": E(SELF, kwargs="check"),
    "quizzes:check_start": E(SELF, kwargs="check", ok=GET_ONLY_POST + (302,)),
    "quizzes:attempt_detail": E(OWNED, kwargs="open_attempt", post=True),
    "quizzes:attempt_check": E(OWNED, kwargs="open_attempt", ok=GET_ONLY_POST + (200, 302), post=True),
    "quizzes:attempt_result": E(OWNED, kwargs="done_attempt"),
    "quizzes:staff_quiz_list": E(STAFF),
    "quizzes:item_analysis": E(STAFF, kwargs="quiz_pk"),
    "quizzes:myth_report": E(STAFF, kwargs="course"),
    "quizzes:item_analysis_csv": E(STAFF, kwargs="quiz_pk"),
    # credits
    "credits:activity_detail": E(PUBLIC, kwargs="course"),
    "credits:evaluation_form": E(SELF, kwargs="course", ok=(200, 302)),
    "credits:claim_form": E(SELF, kwargs="course", ok=(200, 302)),
    "credits:certificate_detail": E(OWNED, kwargs="certificate", post=True),
    "credits:certificate_pdf": E(OWNED, kwargs="certificate"),
    "credits:certificate_verify": E(PUBLIC, kwargs="code"),  # the code is the capability
    "credits:transcript": E(SELF),
    "credits:transcript_csv": E(SELF),
    "credits:report_index": E(PERMISSION),  # learners' names and licence numbers
    "credits:report_csv": E(PERMISSION, kwargs="report"),
    # exports: the QTI package carries answer keys; a connected SCORM package (the default) does not
    "lms_qti:export": E(PERMISSION, kwargs="course"),
    "lms_scorm:export": E(STAFF, kwargs="course"),
    "lms_exports:index": E(STAFF),
    "lms_exports:start": E(PUBLIC, ok=GET_ONLY_POST),  # POST-only: a GET reads nothing (tests/lms/test_exports.py)
    "lms_exports:job_detail": E(PERMISSION, kwargs="export_job"),  # the staff's job, not the author's
    "lms_exports:job_status": E(PERMISSION, kwargs="export_job"),
    "lms_exports:job_download": E(PERMISSION, kwargs="export_job"),
    # SCORM and LTI: signed tokens / protocol messages, no session data
    "lms_scorm:session": E(TOKEN),
    "lms_scorm:launch": E(TOKEN, kwargs="token"),
    "lms_scorm:status": E(TOKEN, kwargs="token"),
    "lti:login": E(TOKEN),
    "lti:launch": E(TOKEN),
    "lti:jwks": E(PUBLIC),
    "lti:deep_link_respond": E(TOKEN),
    # API
    "api-schema": E(PUBLIC),
    "api-docs": E(PUBLIC),
    "<api catch-all>": E(FALLBACK),
    "v1:course-list": E(SELF, api=True),
    "v1:course-detail": E(SELF, kwargs="api_course", api=True),
    "v1:lesson-detail": E(SELF, kwargs="lesson", api=True),
    "v1:lesson-complete": E(SELF, kwargs="lesson", api=True, ok=GET_ONLY_POST),
    "v1:quiz-detail": E(SELF, kwargs="quiz", api=True),
    "v1:attempt-start": E(SELF, kwargs="quiz", api=True, ok=GET_ONLY_POST),
    "v1:attempt-detail": E(OWNED, kwargs="api_open_attempt", api=True),
    "v1:attempt-answers": E(OWNED, kwargs="api_open_attempt", api=True, ok=GET_ONLY_POST, post=True),
    "v1:attempt-submit": E(OWNED, kwargs="api_open_attempt", api=True, ok=GET_ONLY_POST, post=True),
    "v1:attempt-result": E(OWNED, kwargs="api_done_attempt", api=True),
    "v1:attempt-review": E(OWNED, kwargs="api_done_attempt", api=True),
    "v1:check-detail": E(SELF, kwargs="check", api=True),
    "v1:check-start": E(SELF, kwargs="check", api=True, ok=GET_ONLY_POST),
    "v1:attempt-check": E(OWNED, kwargs="api_open_attempt", api=True, ok=GET_ONLY_POST, post=True),
    "v1:completion-detail": E(SELF, kwargs="course", api=True),
    "v1:evaluation-submit": E(SELF, kwargs="course", api=True, ok=GET_ONLY_POST),
    "v1:claim-create": E(SELF, kwargs="course", api=True, ok=GET_ONLY_POST),
    "v1:certificate-verify": E(PUBLIC, kwargs="code"),
    "v1:my-progress-list": E(SELF, api=True),
    "v1:my-certificate-list": E(SELF, api=True),
    "v1:my-certificate-detail": E(OWNED, kwargs="api_certificate", api=True),
    # organisation feeds: integration tokens only (tests/lms covers the token side)
    "v1:enrolment-sync": E(TOKEN, api=True),
    "v1:learner-detail": E(TOKEN, kwargs="external", api=True),
    "v1:certificate-feed-list": E(TOKEN, api=True),
    "v1:certificate-feed-detail": E(TOKEN, kwargs="api_certificate", api=True),
    "v1:progress-feed-list": E(TOKEN, api=True),
    "v1:completion-feed-list": E(TOKEN, api=True),
}


# --- the resolver walk -------------------------------------------------------------------

SKIPPED_PREFIXES = ("admin/", "static/")


@dataclass(frozen=True)
class Route:
    key: str  # the namespaced name, or "<api catch-all>"
    pattern: str  # the full pattern text


def routes(urlconf=None) -> list[Route]:
    """Every URL pattern reachable from the root URLconf, includes walked."""
    found = []

    def walk(resolver, prefix, namespaces):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                ns = namespaces + ((entry.namespace,) if entry.namespace else ())
                walk(entry, prefix + str(entry.pattern), ns)
            elif isinstance(entry, URLPattern):
                full = prefix + str(entry.pattern)
                if full.startswith(SKIPPED_PREFIXES):
                    continue
                if entry.name:
                    key = ":".join(namespaces + (entry.name,))
                elif full.startswith("api/") and "[\\s\\S]" in full:
                    key = "<api catch-all>"
                else:
                    key = f"<unnamed {full}>"
                found.append(Route(key, full))

    walk(get_resolver(urlconf), "", ())
    return found


# --- the world: A's objects ---------------------------------------------------------------

A_NAME = "Alicia Privateperson"
A_EMAIL = "alicia.private@example.org"
A_SCORE = Decimal("87.50")


@dataclass
class World:
    users: dict
    kwargs: dict  # name -> path kwargs
    secrets: list  # strings of A's that B must never see
    course_slug: str


def world_build() -> World:
    a = UserFactory(full_name=A_NAME, email=A_EMAIL)
    b = UserFactory(full_name="Bertram Otherlearner")
    author = UserFactory(full_name="Author Person", is_staff=True)
    group, _ = Group.objects.get_or_create(name="Authors")
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=["curriculum", "quizzes"]))
    author.groups.add(group)
    staff = UserFactory(full_name="Staff Person", is_staff=True, is_superuser=True)

    activity = activity_with_course()
    course = activity.course
    lesson = Lesson.objects.filter(course=course).order_by("position").first()
    everything_complete(a, activity)
    done = Attempt.objects.get(learner=a, quiz__course=course)
    Attempt.objects.filter(pk=done.pk).update(score=A_SCORE)
    certificate = credit_services.claim_create(
        learner=a, activity_id=activity.pk, data=claim_input(full_name=A_NAME, given_name="Alicia",
                                                             family_name="Privateperson")
    )
    Quiz.objects.create(course=course, kind=Quiz.Kind.CHECK, lesson=lesson, title="Check")
    # an open attempt, on a quiz with items
    items_quiz = quiz_with_items(3)
    open_attempt = quiz_services.attempt_start(learner=a, quiz=items_quiz)
    external = ExternalLearnerFactory(user=a)
    # a finished export of the staff member's (its file under LMS_EXPORTS_ROOT, see the world fixture)
    export_job = ExportJob(kind="qti", parameters={"course": course.slug}, requested_by=staff, state="done",
                           filename="export.zip", size=4, finished_at=timezone.now())
    export_job.file.save("job/export.zip", ContentFile(b"PK\x05\x06"), save=False)
    export_job.save()
    link = LinkRequest.objects.create(
        organisation=OrganisationFactory(name="Linking Organisation"), external_id="a-link-id", user=a,
        email=A_EMAIL, full_name=A_NAME, courses={course.slug: "active"},
    )

    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    kwargs = {
        "": {},
        "course": {"course_slug": course.slug},
        "api_course": {"slug": course.slug},
        "lesson": {"course_slug": course.slug, "lesson_slug": lesson.slug},
        "quiz": {"course_slug": course.slug, "kind": Quiz.Kind.POSTTEST},
        "check": {"course_slug": course.slug, "lesson_slug": lesson.slug},
        "open_attempt": {"pk": open_attempt.pk},
        "done_attempt": {"pk": done.pk},
        "api_open_attempt": {"attempt_id": open_attempt.pk},
        "api_done_attempt": {"attempt_id": done.pk},
        "certificate": {"pk": certificate.pk},
        "api_certificate": {"pk": certificate.pk},
        "code": {"code": certificate.code},
        "quiz_pk": {"pk": Quiz.objects.get(course=course, kind=Quiz.Kind.POSTTEST).pk},
        "report": {"name": "completions"},
        "token": {"token": "not-a-valid-token"},
        "external": {"external_id": external.external_id},
        "export_job": {"pk": export_job.pk},
        "link": {"pk": link.pk},
        "reset": {"uidb64": urlsafe_base64_encode(force_bytes(a.pk)), "token": default_token_generator.make_token(a)},
    }
    return World(
        users={"learner_a": a, "learner_b": b, "author": author, "staff": staff},
        kwargs=kwargs,
        secrets=[A_NAME, A_EMAIL, "Privateperson", certificate.code, "87.5", "a-link-id"],
        course_slug=course.slug,
    )


def url_for(route: Route, kwargs: dict) -> str:
    """The pattern with its parameters filled in (reverse() cannot fill the catch-all)."""
    if route.key == "<api catch-all>":
        return "/api/no-such-endpoint/"
    from django.urls import reverse

    return reverse(route.key, kwargs=kwargs or None)


def client_for(role: str, world: World) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


def a_state(user: User) -> tuple:
    """Everything of A's a write could change."""
    return (
        list(Attempt.objects.filter(learner=user).order_by("pk").values_list(
            "pk", "submitted_at", "score", "correct_count")),
        list(Response.objects.filter(attempt__learner=user).order_by("pk").values_list("pk", "chosen", "answered_at")),
        list(LessonProgress.objects.filter(learner=user).order_by("pk").values_list("pk", "completed_at", "visits")),
        Evaluation.objects.filter(learner=user).count(),
        Claim.objects.filter(learner=user).count(),
        list(Certificate.objects.filter(claim__learner=user).order_by("pk").values_list("pk", "code")),
        Enrolment.objects.count(),
        list(LinkRequest.objects.filter(user=user).values_list("pk", "status")),
        ExternalLearner.objects.filter(user=user).count(),
    )


def answers_body(world: World) -> dict:
    """A well-formed answer to the first question of A's open attempt."""
    attempt = Attempt.objects.get(pk=world.kwargs["api_open_attempt"]["attempt_id"])
    version = attempt.layout[0]["version"]
    option = Option.objects.filter(version_id=version).order_by("position").first()
    return {"answers": [{"question": version, "options": [option.pk]}]}


# --- the checker ------------------------------------------------------------------------------


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _is_login_redirect(response) -> bool:
    return response.status_code == HTTPStatus.FOUND and LOGIN in response["Location"]


def matrix_problems(world: World, matrix: dict[str, Entry], urlconf=None) -> list[str]:
    """Every way the site disagrees with the matrix, as readable lines (empty: all good)."""
    problems = []
    all_routes = routes(urlconf)
    for route in all_routes:
        entry = matrix.get(route.key)
        if entry is None:
            problems.append(f"{route.key} ({route.pattern}): not classified in the access matrix")
            continue
        url = url_for(route, world.kwargs[entry.kwargs])
        got = {}
        for role in ROLES:
            response = client_for(role, world).get(url)
            got[role] = (response.status_code, _body(response), response)
            if response.status_code >= 500:
                problems.append(f"{route.key} GET as {role}: {response.status_code}")
        problems += _check(route, entry, url, got, world)
        if entry.post and entry.cls in (OWNED, SELF):
            problems += _check_write(route, entry, url, world)
    for key in matrix:
        if key not in {r.key for r in all_routes}:
            problems.append(f"{key}: in the matrix but no such URL pattern (stale entry)")
    return problems


def _post_only(status) -> bool:
    """A POST-only view refuses a GET with 405 before any log-in check: nothing is read."""
    return status["anonymous"] == status["learner_a"] == HTTPStatus.METHOD_NOT_ALLOWED


def _check(route, entry, url, got, world) -> list[str]:
    out = []
    status = {role: got[role][0] for role in ROLES}
    where = f"{route.key} GET {url}"
    anon_ok = (lambda r: r[0] in API_ANON) if entry.api else (lambda r: _is_login_redirect(r[2]))
    if entry.cls == PUBLIC:
        for role in ROLES:
            if status[role] not in entry.ok:
                out.append(f"{where} as {role}: {status[role]}, expected one of {sorted(entry.ok)}")
    elif entry.cls == OWNED:
        if status["learner_a"] not in entry.ok:
            out.append(f"{where} as owner A: {status['learner_a']}, expected one of {sorted(entry.ok)}")
        # Learner-facing object URLs are per user: everyone else, staff included, gets 404
        # (staff look at learners' records in the admin, which audits it).
        for role in ("learner_b", "author", "staff"):
            if status[role] != HTTPStatus.NOT_FOUND and not (
                status[role] == HTTPStatus.METHOD_NOT_ALLOWED == status["learner_a"]
            ):
                out.append(f"{where} as {role}: {status[role]}, expected 404 (A's object)")
        if not anon_ok(got["anonymous"]) and not _post_only(status):
            out.append(f"{where} as anonymous: {status['anonymous']}, expected a log-in redirect / 401 / 403")
    elif entry.cls == SELF:
        if status["learner_a"] not in entry.ok:
            out.append(f"{where} as A: {status['learner_a']}, expected one of {sorted(entry.ok)}")
        if not anon_ok(got["anonymous"]) and status["anonymous"] != HTTPStatus.METHOD_NOT_ALLOWED:
            out.append(f"{where} as anonymous: {status['anonymous']}, expected a log-in redirect / 401 / 403")
    elif entry.cls == STAFF:
        for role in ("anonymous", "learner_a", "learner_b"):
            if status[role] not in REFUSED:
                out.append(f"{where} as {role}: {status[role]}, expected a refusal (302/401/403/404)")
        for role in ("author", "staff"):  # both are is_staff; the author is not a superuser
            if status[role] != HTTPStatus.OK:
                out.append(f"{where} as {role}: {status[role]}, expected 200")
    elif entry.cls == PERMISSION:
        for role in ("anonymous", "learner_a", "learner_b"):
            if status[role] not in REFUSED:
                out.append(f"{where} as {role}: {status[role]}, expected a refusal (302/401/403/404)")
        if status["author"] != HTTPStatus.FORBIDDEN:
            out.append(f"{where} as author: {status['author']}, expected 403 (staff without the permission)")
        if status["staff"] != HTTPStatus.OK:
            out.append(f"{where} as staff: {status['staff']}, expected 200")
    elif entry.cls == TOKEN:
        for role in ROLES:
            if status[role] == HTTPStatus.OK and role not in ("staff", "author"):
                out.append(f"{where} as {role}: 200 without a token")
    elif entry.cls == FALLBACK:
        for role in ROLES:
            if status[role] != HTTPStatus.NOT_FOUND:
                out.append(f"{where} as {role}: {status[role]}, expected 404")
    # Learner B (and anonymous) read nothing of A's, whatever the class.
    for role in ("anonymous", "learner_b"):
        body = got[role][1]
        for secret in world.secrets:
            if secret in body and not (entry.cls == PUBLIC and entry.kwargs == "code"):
                out.append(f"{where} as {role}: response contains A's data {secret!r}")
    return out


def _check_write(route, entry, url, world) -> list[str]:
    a = world.users["learner_a"]
    before = a_state(a)
    client = client_for("learner_b", world)
    if entry.api:
        method = client.put if route.key == "v1:attempt-answers" else client.post
        response = method(url, answers_body(world), content_type="application/json")
    else:
        response = client.post(url, {"action": "submit", "confirm": "1"})
    out = []
    if response.status_code != HTTPStatus.NOT_FOUND:
        out.append(f"{route.key} POST {url} as learner B: {response.status_code}, expected 404")
    if a_state(a) != before:
        out.append(f"{route.key} POST {url} as learner B changed A's data")
    return out


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture
def world(db, settings, tmp_path):
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports"
    return world_build()


def test_every_url_is_classified_and_obeys_the_matrix(world):
    problems = matrix_problems(world, MATRIX)
    assert not problems, "\n".join(problems)


def test_the_leak_check_would_see_a_data(world):
    """Positive control: A's own pages do show the strings B's responses are searched for."""
    client = client_for("learner_a", world)
    certificate = client.get(f"/certificates/{world.kwargs['certificate']['pk']}/").content.decode()
    assert A_NAME in certificate
    assert A_EMAIL in client.get("/accounts/profile/").content.decode()
    result = client.get(f"/api/v1/attempts/{world.kwargs['api_done_attempt']['attempt_id']}/result/").content.decode()
    assert "87.5" in result


def test_learner_b_api_writes_to_a_attempt_change_nothing_but_a_can(world):
    """B's well-formed write is refused with 404; the same request from A succeeds (a positive control)."""
    a = world.users["learner_a"]
    url = f"/api/v1/attempts/{world.kwargs['api_open_attempt']['attempt_id']}/answers/"
    before = a_state(a)
    response = client_for("learner_b", world).put(url, answers_body(world), content_type="application/json")
    assert response.status_code == HTTPStatus.NOT_FOUND, response.content
    assert a_state(a) == before
    response = client_for("learner_a", world).put(url, answers_body(world), content_type="application/json")
    assert response.status_code == HTTPStatus.OK, response.content
    assert a_state(a) != before


# --- harness self-test: a deliberately broken view must be reported ------------------------------


def leaky_attempt(request, pk):
    """BROKEN ON PURPOSE: any signed-in user reads any attempt (no ownership check)."""
    attempt = Attempt.objects.select_related("learner").get(pk=pk)
    return JsonResponse({"learner": attempt.learner.full_name, "score": str(attempt.score)})


urlpatterns = [
    path("leaky/attempts/<int:pk>/", leaky_attempt, name="leaky_attempt"),
    path("", include("config.urls")),
]


@pytest.mark.urls(__name__)
def test_harness_reports_a_view_without_its_ownership_check(world):
    matrix = {**MATRIX, "leaky_attempt": E(OWNED, kwargs="done_attempt")}
    problems = [p for p in matrix_problems(world, matrix, urlconf=__name__) if p.startswith("leaky_attempt")]
    assert any("as learner_b: 200, expected 404" in p for p in problems), problems
    assert any("contains A's data" in p for p in problems), problems
    assert any("as anonymous" in p for p in problems), problems


@pytest.mark.urls(__name__)
def test_harness_reports_an_unclassified_url(world):
    problems = matrix_problems(world, MATRIX, urlconf=__name__)
    assert any(p.startswith("leaky_attempt") and "not classified" in p for p in problems), problems
