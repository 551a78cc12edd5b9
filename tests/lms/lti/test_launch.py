"""Resource-link launches from a real platform (lti1p3platform): sign-in, account
creation, the page opened, framing; and every invalid launch refused with nothing created."""

import base64
import json
import time
from http import HTTPStatus
from urllib.parse import parse_qsl

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from lms.lti.models import LineItem, LtiUser, ResourceLink, ResourceLinkLearner
from tests.lms.lti.platform import rsa_pem_pair

User = get_user_model()


def _nothing_created():
    return (User.objects.count(), LtiUser.objects.count(), ResourceLink.objects.count(),
            ResourceLinkLearner.objects.count()) == (0, 0, 0, 0)


@pytest.mark.django_db
def test_first_launch_creates_the_account_signs_in_and_opens_the_course(client, launch, course, platform):
    response = launch(sub="lms-user-1", custom={"course": course.slug})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("curriculum:course_detail", args=[course.slug])
    user = User.objects.get()
    assert (user.email, user.full_name, user.has_usable_password()) == ("ada@lms.example", "Ada Learner", False)
    assert int(client.session["_auth_user_id"]) == user.pk
    assert LtiUser.objects.get().sub == "lms-user-1"
    link = ResourceLink.objects.get()
    assert (link.resource_link_id, link.course, link.lesson, link.quiz_kind) == ("rl-1", course, None, "")
    assert LineItem.objects.get().url == platform.lineitem_url
    assert client.get(response["Location"]).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_second_launch_reuses_the_account(client, launch, course):
    launch(sub="lms-user-1", custom={"course": course.slug})
    client.logout()

    response = launch(sub="lms-user-1", custom={"course": course.slug})

    assert response.status_code == HTTPStatus.FOUND
    assert User.objects.count() == LtiUser.objects.count() == ResourceLinkLearner.objects.count() == 1
    assert int(client.session["_auth_user_id"]) == User.objects.get().pk


@pytest.mark.django_db
def test_launch_opens_the_placed_lesson(launch, course):
    response = launch(custom={"course": course.slug, "lesson": "pharmacology"})

    assert response["Location"] == reverse("curriculum:lesson_detail", args=[course.slug, "pharmacology"])


@pytest.mark.django_db
def test_launch_opens_the_placed_post_test(launch, course):
    response = launch(custom={"course": course.slug, "quiz": "posttest"})

    assert response["Location"] == reverse("quizzes:quiz_detail", args=[course.slug, "posttest"])


@pytest.mark.django_db
def test_a_platform_email_already_registered_here_gets_a_separate_account(launch, course, learner):
    """An LMS asserting someone's address must not sign in as their account."""
    learner.email = "ada@lms.example"
    learner.save()

    launch(custom={"course": course.slug})

    link = LtiUser.objects.get()
    assert link.user != learner
    assert link.user.email.endswith("@lti.invalid")


@pytest.mark.django_db
def test_launch_response_may_be_framed_by_the_platform_only(launch, course, platform):
    response = launch(custom={"course": course.slug})

    csp = response["Content-Security-Policy"]
    assert f"frame-ancestors {platform.base}" in csp
    assert "X-Frame-Options" not in response


@pytest.mark.django_db
def test_other_pages_still_refuse_framing(client):
    response = client.get(reverse("curriculum:catalogue"))

    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_link_naming_no_course_is_refused_and_creates_nothing(launch):
    response = launch(custom={"course": "no-such-course"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert _nothing_created()


# --- invalid launches: a clear 4xx page, nothing created -------------------------------


def _tamper_payload(id_token: str) -> str:
    """The same header and signature over a changed body: a bad signature."""
    header, body, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _sign_with_another_key(id_token: str) -> str:
    """The same claims and kid, signed by a key that is not the platform's."""
    claims = jwt.decode(id_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(id_token)["kid"]
    return jwt.encode(claims, rsa_pem_pair()[0], algorithm="RS256", headers={"kid": kid})


CASES = {
    "bad signature": lambda p, token: _tamper_payload(token),
    "wrong audience": lambda p, token: p.resign(token, aud="another-tool", azp="another-tool"),
    "wrong issuer": lambda p, token: p.resign(token, iss="https://evil.example"),
    "expired token": lambda p, token: p.resign(token, exp=int(time.time()) - 60, iat=int(time.time()) - 400),
    "unknown deployment": lambda p, token: p.resign(
        token, **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "99"}),
    "missing exp": lambda p, token: p.resign(token, exp=None),
    "several audiences, another party authorised": lambda p, token: p.resign(
        token, aud=[p.client_id, "another-tool"], azp="another-tool"),
    "signed by another key": lambda p, token: _sign_with_another_key(token),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_invalid_launch_is_refused_with_an_error_page_and_creates_nothing(client, platform, registered, course, case):
    auth = client.get(platform.login_url(sub="lms-user-1"))
    form = platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})

    response = client.post(form["launch_url"], {"id_token": CASES[case](platform, form["id_token"]),
                                                 "state": form["state"]})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert b"This course link could not be opened" in response.content
    assert _nothing_created()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_launch_without_the_state_cookie_is_refused(client, platform, registered, course):
    auth = client.get(platform.login_url(sub="lms-user-1"))
    form = platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})
    client.cookies.clear()

    response = client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert _nothing_created()


@pytest.mark.django_db
def test_login_from_an_unregistered_issuer_is_refused(client):
    response = client.get(reverse("lti:login"), {"iss": "https://unknown.example", "login_hint": "x",
                                                  "target_link_uri": "http://testserver/lti/launch/"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"could not start a sign-in" in response.content


# --- replay -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_replayed_launch_is_refused(client, platform, registered, course):
    """pylti1p3 2.0.0 alone would accept this second POST: it never consumes the nonce."""
    auth = client.get(platform.login_url(sub="lms-user-1"))
    form = platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})
    fields = {"id_token": form["id_token"], "state": form["state"]}
    assert client.post(form["launch_url"], fields).status_code == HTTPStatus.FOUND
    client.logout()

    replay = client.post(form["launch_url"], fields)

    assert replay.status_code == HTTPStatus.FORBIDDEN
    assert b"replayed nonce" in replay.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_replayed_launch_from_another_browser_is_refused(client, platform, registered, course):
    from django.test import Client

    auth = client.get(platform.login_url(sub="lms-user-1"))
    form = platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})
    fields = {"id_token": form["id_token"], "state": form["state"]}
    client.post(form["launch_url"], fields)

    attacker = Client()
    replay = attacker.post(form["launch_url"], fields)

    assert replay.status_code == HTTPStatus.FORBIDDEN
    assert "_auth_user_id" not in attacker.session


@pytest.mark.django_db
def test_jwks_publishes_the_public_key_only(client, registered):
    keys = client.get(reverse("lti:jwks")).json()["keys"]

    assert [k["kid"] for k in keys] == [registered.tool_kid]
    assert {"n", "e"} <= set(keys[0]) and "d" not in keys[0]


@pytest.mark.django_db
def test_a_disabled_account_is_not_signed_in(client, launch, course):
    launch(custom={"course": course.slug})
    User.objects.update(is_active=False)
    client.logout()

    response = launch(custom={"course": course.slug})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_initiation_may_be_posted(client, platform, registered):
    """Some platforms POST the third-party login initiation instead of redirecting."""
    url = platform.login_url(sub="lms-user-1")
    path, _, query = url.partition("?")
    response = client.post(path, dict(parse_qsl(query)))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(f"{platform.base}/auth?")
