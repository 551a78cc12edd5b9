"""In real Chromium: from the last lesson to the downloaded certificate, with axe-core
finding no WCAG A/AA violations on any credit page (desktop and phone width)."""

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from curriculum.models import Lesson
from tests.browser.conftest import CHROMIUM, accessibility_problems
from tests.credits.factories import activity_with_course, lessons_complete, posttest_pass
from tests.factories import UserFactory

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


def _accessible(page, label: str) -> None:
    problems = accessibility_problems(page)
    assert problems == [], f"accessibility problems on {label}: {problems}"


@pytest.mark.parametrize("width", [1280, 320])
def test_last_lesson_to_downloaded_certificate(page, live_server, transactional_db, width):
    learner = UserFactory(full_name="Jane Q. Browser, MD")
    activity = activity_with_course(n_lessons=2)
    first, last = Lesson.objects.filter(course=activity.course).order_by("position")
    lessons_complete(learner, activity)
    last.progress.all().delete()  # the last lesson is still to do
    posttest_pass(learner, activity)
    slug = activity.course.slug
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill(learner.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.locator("form").get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/courses/{slug}/lessons/{last.slug}/")
    page.get_by_role("button", name="Mark complete").click()

    page.goto(f"{live_server.url}/courses/{slug}/credit/")
    _accessible(page, "activity page")
    page.get_by_role("link", name="Evaluate the activity").click()
    _accessible(page, "evaluation form")
    for group in page.locator("fieldset").all()[:2]:
        group.get_by_label("Agree", exact=True).check()
    page.get_by_label("I will consider changes").check()
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Submit the evaluation").click()

    page.get_by_role("link", name="Claim credit").click()
    _accessible(page, "claim form")
    page.get_by_label("Time you actually spent (hours)").fill("1.5")
    page.get_by_label("I attest").check()
    page.get_by_role("button", name="Claim credit and get my certificate").click()

    assert page.get_by_text("Jane Q. Browser, MD").first.is_visible()
    _accessible(page, "certificate page")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the certificate (PDF)").click()
    body = Path(download_info.value.path()).read_bytes()
    text = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert "Jane Q. Browser, MD" in text and "1.50" in text

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transcript").click()
    _accessible(page, "transcript")
    verify = page.get_by_role("link", name="Certificate").first
    assert verify.is_visible()
