"""Deep linking: an instructor chooses what to place; the platform (lti1p3platform)
accepts our signed LtiDeepLinkingResponse and the placement launches."""

import re
from http import HTTPStatus

import jwt
import pytest
from django.urls import reverse

from lms.lti.models import LtiUser, ResourceLink
from tests.lms.lti.platform import LEARNER

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


@pytest.fixture
def selection(client, platform, registered, course):
    """An instructor's deep-linking launch: the selection page."""

    def run(roles=None):
        auth = client.get(platform.login_url(sub="instructor-1", hint="deep-link"))
        kwargs = {"roles": roles} if roles else {}
        form = platform.deep_link_launch(auth["Location"], sub="instructor-1", **kwargs)
        return client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})

    return run


def _launch_id(page) -> str:
    return re.search(rb'name="launch_id" value="([^"]+)"', page.content).group(1).decode()


def _jwt(page) -> str:
    return re.search(rb'name="JWT" value="([^"]+)"', page.content).group(1).decode()


@pytest.mark.django_db
def test_instructor_sees_the_catalogue_to_choose_from(selection, course, platform):
    page = selection()

    assert page.status_code == HTTPStatus.OK
    assert f'value="quiz:{course.slug}/posttest"'.encode() in page.content
    assert f'value="lesson:{course.slug}/pharmacology"'.encode() in page.content
    assert f"frame-ancestors {platform.base}" in page["Content-Security-Policy"]
    assert LtiUser.objects.count() == ResourceLink.objects.count() == 0  # choosing signs nobody in


@pytest.mark.django_db
def test_deep_linking_response_is_accepted_by_the_platform_with_the_chosen_item(client, selection, course, platform):
    page = selection()

    answer = client.post(reverse("lti:deep_link_respond"),
                         {"launch_id": _launch_id(page), "choice": f"quiz:{course.slug}/posttest"})

    assert answer.status_code == HTTPStatus.OK
    assert f'action="{platform.base}/deep_link_return"'.encode() in answer.content
    assert f"form-action 'self' {platform.base}" in answer["Content-Security-Policy"]
    token = _jwt(answer)
    [item] = platform.accept_deep_link_response(token)
    assert item == {
        "type": "ltiResourceLink",
        "title": "Kratom basics: post-test",
        "url": "http://testserver/lti/launch/",
        "custom": {"course": course.slug, "quiz": "posttest"},
        "lineItem": {"scoreMaximum": 100, "label": "Kratom basics: post-test", "resourceId": course.slug,
                     "tag": "posttest"},
    }
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == (platform.client_id, [platform.issuer])
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == platform.deployment_id
    assert claims[DL + "data"] == {"placement": "week-3"}


@pytest.mark.django_db
def test_placed_item_launches_where_it_was_placed(client, selection, launch, course, platform):
    page = selection()
    answer = client.post(reverse("lti:deep_link_respond"),
                         {"launch_id": _launch_id(page), "choice": f"lesson:{course.slug}/pharmacology"})
    [item] = platform.accept_deep_link_response(_jwt(answer))

    response = launch(sub="learner-9", custom=item["custom"], link_id="placed-1")

    assert response["Location"] == reverse("curriculum:lesson_detail", args=[course.slug, "pharmacology"])


@pytest.mark.django_db
def test_a_selection_is_answered_once(client, selection, course):
    launch_id = _launch_id(selection())
    first = client.post(reverse("lti:deep_link_respond"), {"launch_id": launch_id, "choice": f"course:{course.slug}"})

    second = client.post(reverse("lti:deep_link_respond"), {"launch_id": launch_id, "choice": f"course:{course.slug}"})

    assert (first.status_code, second.status_code) == (HTTPStatus.OK, HTTPStatus.CONFLICT)


@pytest.mark.django_db
def test_a_learner_cannot_choose_placements(selection):
    page = selection(roles=[LEARNER])

    assert page.status_code == HTTPStatus.FORBIDDEN
    assert b"Only an instructor" in page.content


@pytest.mark.django_db
def test_unknown_selection_is_refused(client, registered):
    response = client.post(reverse("lti:deep_link_respond"), {"launch_id": "lti1p3-launch-nope", "choice": "course:x"})

    assert response.status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.django_db
def test_choice_of_an_unpublished_course_is_refused(client, selection):
    response = client.post(reverse("lti:deep_link_respond"),
                           {"launch_id": _launch_id(selection()), "choice": "course:not-here"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
