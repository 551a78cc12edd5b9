"""Bad input on every URL: a clear 4xx (or the page again), never a 500.

Every URL pattern the access matrix knows is sent, as anonymous, learner A and
staff, junk query strings on GET, and on POST/PUT/PATCH/DELETE junk bodies:
for HTML pages, every field of the forms the page itself shows filled with
values no form would send (NUL bytes, 100 kB strings, numbers past any column,
lists where one value is expected); for the API, bodies that are not JSON, JSON
of the wrong shape and values of the wrong type. Schemathesis (tests/lms)
fuzzes the API inside its schema; this is what lies outside it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.core.cache import caches
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from lms.models import ExternalLearner, Scope
from lms.services import integration_token_create
from tests.lms.factories import OrganisationFactory
from tests.security.test_access_matrix import MATRIX, client_for, routes, url_for, world_build

ROLES = ("anonymous", "learner_a", "staff")

# The query parameters views read (grep request.GET and query_params).
PARAMETERS = (
    "q", "class", "severity", "attempts", "activity", "learner", "name", "package", "version", "mode", "next",
    "page", "cursor", "updated_since", "page_size", "kind", "from", "to", "report", "iss", "login_hint",
    "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id",
)

JUNK_QUERIES = [
    "page=abc", "page=-1", "page=99999999999999999999999", "cursor=%00%ff%fe", "cursor=" + "A" * 3000,
    "updated_since=2026-13-45T99:99", "page_size=0", "page_size=-5", "page_size=1e9", "q=%00",
    "next=javascript:alert(1)", "next=//evil.example", "version=abc", "format=xml", "kind=%00",
    "course=" + "x" * 5000, "from=not-a-date&to=2026-02-30", "lang=%ff",
    # Every parameter a view reads, given a NUL, then 5,000 characters.
    *(f"{name}={value}" for value in ("%00", "y" * 5000) for name in PARAMETERS),
]
PROTOCOL_FIELDS = ("id_token", "state", "JWT", "token", "element", "value", "cmi", "data", "action", "confirm")

JUNK_VALUES = ["\x00", "-1", "9" * 40, "A" * 100_000, "", "1.5e308", "<script>x</script>", "%ff\udc80"[:1]]

JUNK_JSON = [
    b"not json", b"{", b"[]", b"null", b"1", b'"text"', b'{"answers": "x"}',
    b'{"answers": [{"question": "x", "options": "y"}]}', b'{"answers": [{"question": 99999999999999999999}]}',
    b'{"answers": [null, 1, []]}', b'{"a": ' * 200 + b"1" + b"}" * 200, b'{"responses": {"1": [1e400]}}',
    b'{"name": "\\u0000"}', b'{"rating": -1, "answers": {"x": "y"}}',
    b'{"learners": [{"external_id": "\\u0000", "email": "x"}]}', b'{"answers": [{"question": 1, "options": [-1]}]}',
]

FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.I)


@pytest.fixture
def world(db, settings, tmp_path):
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports"
    yield world_build()
    # The junk spends every throttle (the public verify page's, per address): later tests start afresh.
    for cache in caches.all():
        cache.clear()


def _fields(client, url) -> list[str]:
    """The names of the fields on the page's forms (none for a page that is not HTML)."""
    response = client.get(url)
    if response.status_code != HTTPStatus.OK or "html" not in response.get("Content-Type", ""):
        return []
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return sorted(set(FIELD.findall(body.decode("utf-8", "replace"))) - {"csrfmiddlewaretoken"})


def _form_bodies(fields: list[str]) -> list[dict]:
    # The page's own fields, and the parameters and protocol fields (LTI, SCORM) views read.
    fields = sorted({*fields, *PARAMETERS, *PROTOCOL_FIELDS})
    bodies = [{}, {"unknown": "\x00"}]
    for value in JUNK_VALUES:
        bodies.append(dict.fromkeys(fields, value))
    bodies.append({name: ["1", "2", "\x00"] for name in fields})  # many values where one is expected
    return bodies


def _client(role: str, world, token: str):
    """A session role's client, or for "integrator" one with an integration token of every scope."""
    if role == "integrator":
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client_for(role, world)


def junk_problems(world, keys=None) -> list[str]:
    """Every request of junk that got a 5xx, as readable lines (empty: all good)."""
    organisation = ExternalLearner.objects.get(user=world.users["learner_a"]).organisation
    _, token = integration_token_create(organisation=organisation, name="junk", scopes=list(Scope.values))
    problems = []
    for route in routes():
        entry = MATRIX.get(route.key)
        if entry is None or (keys is not None and route.key not in keys):
            continue
        url = url_for(route, world.kwargs[entry.kwargs])
        api = route.pattern.startswith("api/")
        for role in (*ROLES, "integrator") if api else ROLES:
            client = _client(role, world, token)
            for query in JUNK_QUERIES:
                status = client.get(f"{url}?{query}").status_code
                if status >= 500:
                    problems.append(f"{route.key} GET ?{query[:40]} as {role}: {status}")
            if api:
                for method in ("post", "put", "patch"):
                    for body in JUNK_JSON:
                        status = getattr(client, method)(url, body, content_type="application/json").status_code
                        if status >= 500:
                            problems.append(f"{route.key} {method.upper()} {body[:40]!r} as {role}: {status}")
                status = client.post(url, "x=1", content_type="text/plain").status_code
                if status >= 500:
                    problems.append(f"{route.key} POST text/plain as {role}: {status}")
            else:
                for body in _form_bodies(_fields(client, url)):
                    status = client.post(url, body).status_code
                    if status >= 500:
                        shown = json.dumps({k: (v[:20] if isinstance(v, str) else v) for k, v in body.items()})
                        problems.append(f"{route.key} POST {shown[:120]} as {role}: {status}")
            status = client.delete(url).status_code
            if status >= 500:
                problems.append(f"{route.key} DELETE as {role}: {status}")
    return problems


def test_no_url_answers_junk_with_a_server_error(world):
    problems = junk_problems(world)
    assert not problems, "\n".join(problems)


# --- what the sweep found, one by one ------------------------------------------------------------


def test_a_nul_in_the_query_string_is_a_400_that_says_so(world, client):
    course = world.course_slug
    response = client.get(reverse("curriculum:interaction_explorer", args=[course]) + "?q=%00")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "NUL character" in response.content.decode() and "Content-Security-Policy" in response
    api = client.get(reverse("v1:course-list") + "?page=1%00")
    assert api.status_code == HTTPStatus.BAD_REQUEST
    assert api.json()["error"]["code"] == "invalid" and "NUL character" in api.json()["error"]["message"]
    # A percent sign that is not a NUL is nobody's business here.
    assert client.get(reverse("curriculum:interaction_explorer", args=[course]) + "?q=100%25").status_code == 200


def test_a_nul_in_a_form_body_is_a_400_before_the_view(world, client):
    response = client.post(reverse("lti:login"), {"iss": "https://platform.example\x00", "login_hint": "x"})
    assert response.status_code == HTTPStatus.BAD_REQUEST and "NUL character" in response.content.decode()
    response = client.post(reverse("lti:login"), {"iss\x00": "x"})
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_a_log_in_with_an_address_longer_than_any_column_is_a_plain_failure(world, client):
    """On SQLite the case-insensitive lookup refused the pattern (a 503); on PostgreSQL
    django-axes failed to record a name over 255 characters (a 500)."""
    long_name = "a" * 100_000 + "@example.org"
    response = client.post(reverse("accounts:login"), {"username": long_name, "password": "wrong"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Please enter a correct e-mail address and password" in response.content.decode()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["a" * 255]


ADMIN_QUERIES = [
    "o=99", "o=abc", "p=-1", "p=abc", "q=" + "z" * 5000, "all=", "e=1", "_changelist_filters=%ff",
    "state__exact=junk", "created_at__gte=notadate", "organisation__id__exact=abc", "id__in=a,b", "pk=abc",
]


def test_no_admin_page_answers_junk_with_a_server_error(world):
    """Every model admin's list (junk filters, orders, pages, searches), its change, history and
    add pages for ids that are not ids, and each of its actions on selections of nothing."""
    client = client_for("staff", world)  # a superuser: every admin page and action
    problems = []
    for model, model_admin in admin.site._registry.items():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for query in (*JUNK_QUERIES, *ADMIN_QUERIES):
            if (status := client.get(f"{changelist}?{query}").status_code) >= 500:
                problems.append(f"{changelist}?{query[:40]}: {status}")
        for suffix in ("abc/change/", "999999/change/", "1/history/", "add/", "abc/delete/"):
            for method in ("get", "post"):
                if (status := getattr(client, method)(changelist + suffix).status_code) >= 500:
                    problems.append(f"{method.upper()} {changelist}{suffix}: {status}")
        # Ids that name nothing, and values that are not ids (a tampered staff form): Django's
        # own action handling filters on what was posted; config/admin.py checks it first.
        for action in (*model_admin.get_actions(_request(world)), "no_such_action"):
            for selected in (["-1", "999999"], ["abc", "1.5"], ["9" * 30]):
                body = {"action": action, "_selected_action": selected, "index": "0"}
                if (status := client.post(changelist, body).status_code) >= 500:
                    problems.append(f"POST {changelist} action {action} on {selected}: {status}")
    assert not problems, "\n".join(problems)


def test_an_admin_action_on_a_selection_that_is_not_ids_is_a_400_that_says_so(world):
    """Django alone answers a 500 here (it filters on the posted values unchecked)."""
    client = client_for("staff", world)
    changelist = reverse("admin:lms_integrationtoken_changelist")
    token = integration_token_create(organisation=OrganisationFactory(), name="kept", scopes=[Scope.PROGRESS_READ])[0]
    response = client.post(changelist, {"action": "revoke", "_selected_action": [token.pk, "abc"], "index": "0"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The selection must be ids of integration tokens: &#x27;abc&#x27; is not one." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None  # nothing of the selection was acted on
    # A valid selection still goes through to the action.
    client.post(changelist, {"action": "revoke", "_selected_action": [token.pk], "index": "0"})
    token.refresh_from_db()
    assert token.revoked_at is not None
    # Signed out, the same post goes to the log-in page, as before.
    response = Client().post(changelist, {"action": "revoke", "_selected_action": ["abc"], "index": "0"})
    assert response.status_code == HTTPStatus.FOUND and "/admin/login/" in response["Location"]


def _request(world):
    """A request as the superuser, for asking a model admin which actions it offers."""
    request = RequestFactory().get("/admin/")
    request.user = world.users["staff"]
    return request


def test_the_admin_action_that_cleans_up_expired_log_in_attempts_works(world):
    client = client_for("staff", world)  # first: signing in cleans up expired attempts too
    expired, recent = (
        AccessAttempt.objects.create(
            username=name, ip_address="192.0.2.1", user_agent="x", failures_since_start=1,
            get_data="", post_data="", http_accept="", path_info="/accounts/login/",
        )
        for name in ("old@example.org", "new@example.org")
    )
    # Older than the cool-off (AXES_COOLOFF_TIME, 15 minutes): expired.
    AccessAttempt.objects.filter(pk=expired.pk).update(attempt_time=timezone.now() - dt.timedelta(hours=1))
    response = client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "cleanup_expired_attempts", "_selected_action": [recent.pk], "index": "0"},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK and "Cleaned up 1 expired access attempts" in response.content.decode()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["new@example.org"]
