"""In Chromium: a learner takes the pre-test, reads, does a knowledge check, fails the post-test, reviews,
retakes and passes; axe-core reports no WCAG A/AA violations on the quiz pages.

Uses the browser set-up of tests/browser (Debian's Chromium, vendored axe-core).
"""

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from quizzes.models import Quiz
from tests.browser.conftest import CHROMIUM, accessibility_problems
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)), reason=f"no Chromium at {CHROMIUM}"
    ),
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox", "--disable-gpu"]}


@pytest.fixture
def course(transactional_db, tmp_path):
    call_command("load_curriculum", content_dir=str(course_dir_write(tmp_path)), stdout=StringIO())
    # Show the review after a failed attempt, so the learner can learn from it before retaking.
    Quiz.objects.filter(kind="posttest").update(review_rule=Quiz.ReviewRule.ALWAYS)
    return "quiz-course"


def _login(page, live_server):
    client = Client()
    client.force_login(UserFactory())
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def _check(page, label):
    problems = accessibility_problems(page)
    assert problems == [], f"accessibility problems on {label}: {problems}"


def _answer_all(page, *, correctly: bool):
    """Tick the keyed options (placeholder content: Option 0, Choice 0 and 1, True) or a wrong one."""
    for question in page.locator("fieldset.question").all():
        labels = [text.strip() for text in question.locator("ul.options label").all_inner_texts()]
        if "True" in labels:
            wanted = ["True"] if correctly else ["False"]
        elif any(label.startswith("Choice") for label in labels):
            wanted = ["Choice 0", "Choice 1"] if correctly else ["Choice 3"]
        else:
            wanted = ["Option 0"] if correctly else ["Option 2"]
        for text in wanted:
            question.locator("ul.options").get_by_label(text, exact=True).check()


@pytest.mark.parametrize("width", [1280, 320])
def test_pretest_fail_review_retake_pass(page, live_server, course, width):
    page.set_viewport_size({"width": width, "height": 900})
    _login(page, live_server)

    page.goto(f"{live_server.url}/courses/{course}/quizzes/pretest/")
    _check(page, "pre-test start page")
    page.get_by_role("button", name="Start").click()
    _check(page, "pre-test attempt")
    _answer_all(page, correctly=False)
    page.get_by_role("button", name="Submit").click()
    assert "0%" in page.get_by_test_id("score").inner_text()
    _check(page, "pre-test result")

    page.goto(f"{live_server.url}/courses/{course}/lessons/lesson-one/")
    page.get_by_role("button", name="Mark complete").click()

    page.goto(f"{live_server.url}/courses/{course}/lessons/lesson-one/check/")
    page.get_by_role("button", name="Start").click()
    _check(page, "knowledge check")
    first = page.locator("section.question").first
    first.get_by_label("Option 0", exact=True).check()
    first.get_by_role("button", name="Check answer").click()
    assert page.locator("section.question").first.get_by_text("Correct.").is_visible()
    _check(page, "knowledge check feedback")

    page.goto(f"{live_server.url}/courses/{course}/quizzes/posttest/")
    page.get_by_role("button", name="Start").click()
    _answer_all(page, correctly=False)
    page.get_by_role("button", name="Save and finish later").click()
    assert page.get_by_role("status").inner_text().startswith("Your answers are saved")
    page.get_by_role("button", name="Submit").click()
    assert "Not passed" in page.get_by_test_id("score").inner_text()
    assert page.get_by_role("heading", name="Review").is_visible()
    assert page.get_by_text("Correct answer.").first.is_visible()
    _check(page, "post-test review")

    page.get_by_role("link", name="Back to the post-test").click()
    page.get_by_role("button", name="Start a new attempt").click()
    _answer_all(page, correctly=True)
    page.get_by_role("button", name="Submit").click()
    assert "You passed." in page.get_by_test_id("score").inner_text()

    page.get_by_role("link", name="Your progress").first.click()
    assert page.get_by_text("Passed").first.is_visible()
    _check(page, "dashboard")
