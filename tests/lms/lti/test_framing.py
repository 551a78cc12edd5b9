"""Iframe placements: which origins may frame a launched session, and its cross-site cookies.

A session started by an LTI launch may be framed by its platform's registered
origins and carries `SameSite=None; Secure; Partitioned` cookies; every other
session and anonymous page keeps `X-Frame-Options: DENY`, `frame-ancestors
'none'` and `SameSite=Lax`. Requests here are HTTPS (`wsgi.url_scheme`),
where browsers accept Secure cookies, so pylti1p3's HTTPS path runs too
(its `lti1p3-session-id` cookie).
"""

from http import HTTPStatus
from http.cookies import Morsel
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lms.lti.framing import frame_ancestors, frame_origins_default, origin_normalize, partition_cookie
from lms.lti.models import LtiUser, Platform
from tests.factories import UserFactory


class HttpsClient(Client):
    """A browser on https://testserver: every request is secure."""

    def generic(self, *args, **kwargs):
        kwargs["secure"] = True
        return super().generic(*args, **kwargs)


def _cookie(response, name: str) -> str:
    return response.cookies[name].output(header="").strip()


def _flags(set_cookie: str) -> set[str]:
    """The attributes of a Set-Cookie value, lower-case; SameSite with its value."""
    flags = set()
    for part in set_cookie.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        flags.add(f"samesite={value.lower()}" if name.lower() == "samesite" else name.lower())
    return flags


@pytest.fixture
def https_client():
    return HttpsClient()


@pytest.fixture
def launched(https_client, launch, course):
    """A browser whose session was started by a launch of the course (over HTTPS)."""
    response = launch(client=https_client, custom={"course": course.slug, "lesson": "pharmacology"})
    assert response.status_code == HTTPStatus.FOUND, response.content
    response.client = https_client
    return response


# --- origins -----------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("https://LMS.example.edu/", "https://lms.example.edu"),
    ("https://lms.example.edu:443", "https://lms.example.edu"),
    ("https://lms.example.edu:8443", "https://lms.example.edu:8443"),
    ("http://localhost:8000", "http://localhost:8000"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
])
def test_origins_are_normalised(value, expected):
    assert origin_normalize(value) == expected


@pytest.mark.parametrize("value", [
    "*", "https://*.example.edu", "'self'", "'none'", "https:", "lms.example.edu",
    "https://lms.example.edu/course/1", "https://lms.example.edu?x=1",
    "https://lms.example.edu; script-src *", "https://lms.example.edu https://evil.example",
    "http://lms.example.edu", "https://user@lms.example.edu", "javascript:alert(1)", "data:text/html,x",
])
def test_anything_but_an_origin_is_refused(value):
    with pytest.raises(ValidationError):
        origin_normalize(value)


def test_frame_ancestors_never_emits_a_wildcard_or_an_empty_list():
    assert frame_ancestors(["*", "https://lms.example.edu", "https://x.edu; script-src *"]) == [
        "https://lms.example.edu"]
    assert frame_ancestors(["*"]) == ["'none'"]
    assert frame_ancestors([]) == ["'none'"]


def test_default_origins_come_from_the_issuer_and_the_auth_url():
    assert frame_origins_default("https://moodle.school.edu", "https://moodle.school.edu/mod/lti/auth.php") == [
        "https://moodle.school.edu"]
    assert frame_origins_default("https://canvas.instructure.com", "https://sso.canvaslms.com/api/lti/auth") == [
        "https://canvas.instructure.com", "https://sso.canvaslms.com"]
    assert frame_origins_default("not a url", "http://lms.example.edu/auth") == []  # http off loopback


@pytest.mark.django_db
def test_registration_defaults_to_the_platform_origin(registered, platform):
    assert registered.frame_origins == [platform.base]


@pytest.mark.django_db
def test_admin_edits_frame_origins_one_per_line_and_refuses_a_wildcard(admin_client, registered):
    url = reverse("admin:lti_platform_change", args=[registered.pk])
    fields = {
        "name": registered.name, "issuer": registered.issuer, "client_id": registered.client_id,
        "auth_login_url": registered.auth_login_url, "auth_token_url": registered.auth_token_url,
        "auth_audience": "", "key_set_url": registered.key_set_url, "deployment_ids": '["1"]', "is_active": "on",
    }

    refused = admin_client.post(url, {**fields, "frame_origins": "https://lms.example.edu\n*"})
    saved = admin_client.post(url, {**fields, "frame_origins": "https://lms.example.edu/\n\nhttps://b.example.edu"})

    assert refused.status_code == HTTPStatus.BAD_REQUEST and b"is not an origin" in refused.content
    assert saved.status_code == HTTPStatus.FOUND
    registered.refresh_from_db()
    assert registered.frame_origins == ["https://lms.example.edu", "https://b.example.edu"]


# --- the Partitioned attribute -------------------------------------------------------------


def test_partitioned_cookie_serialises_every_attribute():
    response = HttpResponse()
    response.set_cookie("sessionid", "abc", max_age=60, path="/", httponly=True, samesite="Lax")

    partition_cookie(response, "sessionid")

    header = _cookie(response, "sessionid")
    assert header.startswith("sessionid=abc;")
    assert _flags(header) >= {"httponly", "max-age", "path", "samesite=none", "secure", "partitioned"}
    assert "partitioned" not in Morsel._reserved  # the standard library's Morsel is left alone


# --- launched sessions -------------------------------------------------------------------


@pytest.mark.django_db
def test_launch_sets_partitioned_cross_site_session_and_csrf_cookies(launched, settings):
    for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        assert _flags(_cookie(launched, name)) >= {"samesite=none", "secure", "partitioned"}, name


@pytest.mark.django_db
def test_oidc_state_cookie_is_partitioned(https_client, platform, registered):
    response = https_client.get(platform.login_url(sub="u1"))

    state_cookies = [name for name in response.cookies if name.startswith("lti1p3-")]
    assert state_cookies  # the state cookie and pylti1p3's session-id cookie (HTTPS)
    for name in state_cookies:
        assert _flags(_cookie(response, name)) >= {"samesite=none", "secure", "partitioned"}, name


@pytest.mark.django_db
def test_pages_after_a_launch_may_be_framed_by_the_platform_only(launched, platform):
    page = launched.client.get(reverse("curriculum:catalogue"))

    assert page.status_code == HTTPStatus.OK
    assert f"frame-ancestors {platform.base};" in page["Content-Security-Policy"] + ";"
    assert "X-Frame-Options" not in page


@pytest.mark.django_db
def test_an_origin_removed_from_the_registration_is_refused_at_once(launched, registered):
    Platform.objects.filter(pk=registered.pk).update(frame_origins=["https://lms.example.edu"])
    page = launched.client.get(reverse("curriculum:catalogue"))
    assert "frame-ancestors https://lms.example.edu;" in page["Content-Security-Policy"] + ";"
    assert registered.issuer not in page["Content-Security-Policy"]

    Platform.objects.filter(pk=registered.pk).update(is_active=False)
    page = launched.client.get(reverse("curriculum:catalogue"))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_the_admin_is_never_framed_even_in_a_launched_session(launched):
    page = launched.client.get(reverse("admin:index"))

    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_logout_in_a_launched_session_deletes_the_partitioned_cookie(launched, settings):
    response = launched.client.post(reverse("accounts:logout"))

    deletion = _cookie(response, settings.SESSION_COOKIE_NAME)
    assert "max-age=0" in deletion.lower()
    assert _flags(deletion) >= {"samesite=none", "secure", "partitioned"}


@pytest.mark.django_db
def test_a_launched_page_costs_one_query_more_than_an_ordinary_one(launched):
    """The registration's origins are read on every request of a launched session."""
    ordinary = HttpsClient()
    ordinary.force_login(LtiUser.objects.get().user)
    url = reverse("curriculum:catalogue")
    ordinary.get(url), launched.client.get(url)  # warm both sessions
    with CaptureQueriesContext(connection) as plain:
        ordinary.get(url)
    with CaptureQueriesContext(connection) as framed:
        launched.client.get(url)

    assert len(framed) == len(plain) + 1


# --- CSRF with SameSite=None ---------------------------------------------------------------


@pytest.mark.django_db
def test_csrf_in_a_launched_session_still_needs_our_origin_and_the_token(https_client, launch, course, platform):
    strict = HttpsClient(enforce_csrf_checks=True)
    launch(client=strict, custom={"course": course.slug, "lesson": "pharmacology"})
    lesson = reverse("curriculum:lesson_detail", args=[course.slug, "pharmacology"])
    complete = reverse("curriculum:lesson_complete", args=[course.slug, "pharmacology"])
    strict.get(lesson)
    token = strict.cookies["csrftoken"].value

    no_token = strict.post(complete, HTTP_ORIGIN="https://testserver")
    from_the_platform = strict.post(complete, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN=platform.base)
    from_the_frame = strict.post(complete, {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="https://testserver")

    assert no_token.status_code == HTTPStatus.FORBIDDEN
    assert from_the_platform.status_code == HTTPStatus.FORBIDDEN  # the LMS is not a trusted origin
    assert from_the_frame.status_code == HTTPStatus.FOUND


# --- ordinary sessions and anonymous pages are unchanged ----------------------------------


@pytest.mark.django_db
def test_password_login_keeps_lax_unpartitioned_cookies_and_deny(https_client, settings):
    user = UserFactory()
    response = https_client.post(reverse("accounts:login"), {"username": user.email,
                                                             # pragma: allowlist nextline secret
                                                             "password": "correct-horse-battery"})
    assert response.status_code == HTTPStatus.FOUND
    session_cookie = _cookie(response, settings.SESSION_COOKIE_NAME)
    assert "samesite=lax" in _flags(session_cookie)
    assert "partitioned" not in _flags(session_cookie)

    page = https_client.get(reverse("curriculum:catalogue"))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_anonymous_pages_refuse_framing_while_a_launched_session_exists(launched):
    page = HttpsClient().get(reverse("curriculum:catalogue"))

    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"


# --- a browser refusing cookies in the iframe -----------------------------------------------


@pytest.mark.django_db
def test_launch_whose_state_cookie_was_refused_offers_a_new_window(client, platform, registered, course):
    auth = client.get(platform.login_url(sub="lms-user-1"))
    form = platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})
    client.cookies.clear()  # what a browser refusing cookies in the frame sends back

    page = client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})

    assert page.status_code == HTTPStatus.FORBIDDEN
    assert b"Open in a new window" in page.content
    assert f"frame-ancestors {platform.base}" in page["Content-Security-Policy"]
    href = page.content.decode().split('href="/lti/login/?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    params = dict(parse_qsl(href))
    assert params["lti1p3_new_window"] == "1"
    assert params["iss"] == platform.issuer and params["login_hint"] == "lms-user-1"
    assert not LtiUser.objects.exists()

    # The same refusal in the new window: no link again, so nobody goes round in circles.
    retry = client.get(f"/lti/login/?{href}")
    form = platform.resource_launch(retry["Location"], sub="lms-user-1", custom={"course": course.slug})
    client.cookies.clear()
    page = client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})
    assert b"Allow cookies for testserver" in page.content
    assert b"Open in a new window</a>" not in page.content
    assert urlsplit(retry["Location"]).path == "/auth"
