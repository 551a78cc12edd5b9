"""An LTI placement inside the LMS's iframe, in real Chromium.

The LMS (lti1p3platform, tests/lms/lti/platform.py) serves its course page on
http://localhost:<port>; the page's iframe starts the LTI login at the tool,
served by live_server on http://127.0.0.1:<port>: another site, so every
cookie the tool sets in the frame is a third-party cookie. Playwright's
browser contexts block unpartitioned third-party cookies (checked: a
`SameSite=None; Secure` cookie without `Partitioned` is not sent back in this
frame), so these tests pass only because the tool's cookies are partitioned.
Chromium accepts `Secure` cookies from http://127.0.0.1 (a secure context).
"""

import json
from pathlib import Path

import pytest
import requests

from curriculum.models import LessonProgress
from lms.lti import services
from lms.lti.models import LtiUser
from tests.browser.conftest import CHROMIUM
from tests.factories import CourseFactory, LessonFactory
from tests.lms.lti.platform import TestPlatform

pytestmark = pytest.mark.browser

FRAME = "tool"


def _course_page(src: str) -> str:
    return (
        '<!doctype html><html lang="en"><title>LMS course</title><h1>Pharmacology 101</h1>'
        f'<iframe name="{FRAME}" title="Kratom module" src="{src}" width="900" height="700"></iframe></html>'
    )


@pytest.fixture
def course(transactional_db):
    course = CourseFactory(slug="kratom-basics", title="Kratom basics")
    LessonFactory(course=course, slug="pharmacology")
    return course


@pytest.fixture
def tool_base(live_server):
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def lms(tool_base, transactional_db):
    """The LMS on localhost, registered with its default frame origin (its auth URL's origin)."""
    with TestPlatform(tool_base=tool_base, host="localhost") as platform:
        services.platform_register(**platform.tool_registration())
        platform.trust_tool_keys(requests.get(f"{tool_base}/lti/jwks/", timeout=10).json())
        yield platform


def _place_lesson(lms: TestPlatform, course, *, sub: str = "learner-1") -> str:
    """The LMS course page framing a launch of the course's lesson; returns its URL."""
    lms.next_launch = {"kind": "resource", "sub": sub, "custom": {"course": course.slug, "lesson": "pharmacology"}}
    lms.pages["/course"] = _course_page(lms.login_url(sub=sub))
    return f"{lms.base}/course"


def _frame(page, timeout_ms: int = 10_000):
    """The tool's iframe, once the page has it. Right after a navigation the frame can be
    missing for a moment, while Chromium moves a cross-site frame to a process of its own
    (seen once in CI on a loaded machine: `page.frame` returned None after `goto`)."""
    frame = page.frame(name=FRAME)
    waited = 0
    while frame is None and waited < timeout_ms:
        page.wait_for_timeout(50)
        waited += 50
        frame = page.frame(name=FRAME)
    assert frame is not None, f"no frame named {FRAME!r} after {timeout_ms} ms on {page.url}"
    return frame


def test_framed_launch_keeps_the_learner_signed_in_across_pages(page, lms, course, tool_base):
    page.goto(_place_lesson(lms, course))
    frame = _frame(page)
    frame.wait_for_url(f"{tool_base}/courses/{course.slug}/lessons/pharmacology/**")
    assert frame.locator("button:has-text('Log out')").count() == 1  # the launch signed them in

    # A second request inside the frame: a POST with the CSRF token, then a redirect and a GET.
    frame.click("button:has-text('Mark complete')")
    frame.wait_for_url(f"{tool_base}/courses/{course.slug}/")
    assert frame.locator("text=marked complete").count() == 1
    assert frame.locator("button:has-text('Log out')").count() == 1  # still signed in

    learner = LtiUser.objects.get(sub="learner-1").user
    assert LessonProgress.objects.filter(learner=learner, completed_at__isnull=False).count() == 1
    assert page.url == f"{lms.base}/course"  # all of it happened inside the LMS's page


def test_an_unregistered_origin_cannot_frame_a_launched_session(page, lms, course, tool_base):
    page.goto(_place_lesson(lms, course))
    _frame(page).wait_for_url(f"{tool_base}/courses/{course.slug}/lessons/pharmacology/**")
    lesson_url = _frame(page).url
    headers = {}
    page.on("response", lambda r: headers.setdefault(r.url, r.headers) if r.url == lesson_url else None)

    # Another origin on the same site (so the partitioned session cookie is sent: the
    # session is the launched one), which nobody registered: the frame is refused.
    with TestPlatform(host="localhost") as other:
        other.pages["/evil"] = _course_page(lesson_url)
        page.goto(f"{other.base}/evil")
        frame = _frame(page)
        frame.wait_for_url("chrome-error://chromewebdata/")  # Chromium's blocked-frame page

        assert f"frame-ancestors {lms.base}" in headers[lesson_url]["content-security-policy"]
        assert "x-frame-options" not in headers[lesson_url]
        assert frame.locator("text=Log out").count() == 0


@pytest.fixture
def cookie_blocking_context(playwright, tmp_path: Path, tool_base, browser_type_launch_args):
    """A Chromium profile that refuses the tool's cookies when it is framed by
    another site, and accepts them in a window of its own (a browser without
    CHIPS that blocks third-party cookies behaves the same)."""
    prefs = {"profile": {"content_settings": {"exceptions": {"cookies": {
        f"{tool_base},*": {"setting": 1},
        f"{tool_base},http://localhost:*": {"setting": 2},
    }}}}}
    (tmp_path / "Default").mkdir()
    (tmp_path / "Default" / "Preferences").write_text(json.dumps(prefs))
    args = {k: v for k, v in browser_type_launch_args.items() if k in ("args", "executable_path")}
    context = playwright.chromium.launch_persistent_context(str(tmp_path), **{"executable_path": CHROMIUM, **args})
    yield context
    context.close()


def test_refused_cookies_offer_a_new_window_that_works(cookie_blocking_context, lms, course, tool_base):
    page = cookie_blocking_context.new_page()
    page.goto(_place_lesson(lms, course))
    frame = _frame(page)
    frame.wait_for_selector("text=Open in a new window")
    assert LtiUser.objects.count() == 0  # nothing accepted, no loop, no 500

    with cookie_blocking_context.expect_page() as opened:
        frame.click("text=Open in a new window")
    window = opened.value
    window.wait_for_url(f"{tool_base}/courses/{course.slug}/lessons/pharmacology/**")
    assert window.locator("button:has-text('Log out')").count() == 1
