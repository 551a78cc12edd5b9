"""In real Chromium, with the platform (lti1p3platform) serving its side over HTTP:
an instructor places the post-test by deep linking, a learner launches the
placement and lands signed in on it; axe-core finds no WCAG A/AA violation
on the LTI pages."""

import shutil
from pathlib import Path

import pytest
import requests

from lms.lti import services
from tests.browser.conftest import CHROMIUM, axe_violations
from tests.lms.lti.platform import TestPlatform
from tests.quizzes.factories import QuizFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)),
        reason=f"no Chromium at {CHROMIUM}: sudo apt-get install chromium",
    ),
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]}


@pytest.fixture
def browser_platform(live_server, transactional_db):
    # The tool at 127.0.0.1 like the platform, launched in the top-level window;
    # tests/browser/test_lti_iframe.py runs a launch in another site's iframe.
    tool_base = live_server.url.replace("localhost", "127.0.0.1")
    with TestPlatform(tool_base=tool_base) as platform:
        services.platform_register(**platform.tool_registration())
        platform.trust_tool_keys(requests.get(f"{tool_base}/lti/jwks/", timeout=10).json())
        yield platform


def _accessible(page, label: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"axe-core violations on {label}: {violations}"


def test_instructor_places_the_post_test_and_a_learner_launches_it(page, browser_platform, course):
    QuizFactory(course=course, kind="posttest", title="Post-test")
    platform = browser_platform
    platform.next_launch = {"kind": "deep_link", "sub": "instructor-1"}
    page.goto(platform.login_url(sub="instructor-1", hint="deep-link"))
    page.wait_for_selector("text=Choose what to place")
    _accessible(page, "deep-linking selection")

    page.check(f'input[value="quiz:{course.slug}/posttest"]')
    page.click("text=Place it")
    page.wait_for_selector("text=Content placed")

    [item] = platform.deep_link_items
    assert item["custom"] == {"course": course.slug, "quiz": "posttest"}

    platform.next_launch = {"kind": "resource", "sub": "learner-1", "custom": item["custom"]}
    page.goto(platform.login_url(sub="learner-1"))
    page.wait_for_url(f"**/courses/{course.slug}/quizzes/posttest/")
    assert page.locator("button:has-text('Log out')").count() == 1  # signed in
    _accessible(page, "post-test page after launch")


def test_refused_launch_shows_an_accessible_error_page(page, browser_platform, course):
    platform = browser_platform
    platform.next_launch = {"kind": "resource", "sub": "learner-1", "custom": {"course": "not-published"}}

    page.goto(platform.login_url(sub="learner-1"))
    page.wait_for_selector("text=This course link could not be opened")

    _accessible(page, "LTI error page")
