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

import json
import re
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from lms.models import ExternalLearner, Scope
from lms.services import integration_token_create
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
    return world_build()


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
    assert response.status_code == HTTPStatus.OK
    assert "Please enter a correct e-mail address and password" in response.content.decode()
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["a" * 255]
