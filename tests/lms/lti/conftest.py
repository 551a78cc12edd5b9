"""An LTI platform (lti1p3platform) on 127.0.0.1, registered with our tool."""

import pytest
from django.urls import reverse

from tests.factories import CourseFactory, LessonFactory
from tests.lms.lti.platform import TestPlatform


@pytest.fixture
def platform():
    with TestPlatform() as running:
        yield running


@pytest.fixture
def registered(db, client, platform):
    """The platform registered in our admin, and trusting our published keys."""
    from lms.lti import services

    row = services.platform_register(**platform.tool_registration())
    platform.trust_tool_keys(client.get(reverse("lti:jwks")).json())
    return row


@pytest.fixture
def course(db):
    course = CourseFactory(slug="kratom-basics", title="Kratom basics")
    LessonFactory(course=course, slug="pharmacology")
    return course


@pytest.fixture
def launch(client, platform, registered):
    """launch(sub=..., **claims): the whole flow in a browser; returns the launch POST's response."""

    def run(*, sub: str = "lms-user-1", client=client, **claims):
        auth = client.get(platform.login_url(sub=sub))
        assert auth.status_code == 302, auth.content
        form = platform.resource_launch(auth["Location"], sub=sub, **claims)
        return client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})

    run.platform = platform
    return run
