"""In Chromium: a learner takes the pre-test, reads, does a knowledge check, fails the post-test, reviews,
retakes and passes; axe-core reports no WCAG A/AA violations on the quiz pages.

Uses the browser set-up of tests/browser (Debian's Chromium, vendored axe-core).
"""

import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from quizzes.models import Attempt, Quiz, ResponseChoice
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


# --- the attempt page saves each answer as it is chosen (static/js/quiz-autosave.js) ---------


def _saved_choices(attempt_id: int) -> dict[int, set[int]]:
    """Position -> the ids of the options saved on the server for that question."""
    saved: dict[int, set[int]] = {}
    for position, option_id in ResponseChoice.objects.filter(response__attempt_id=attempt_id).values_list(
        "response__position", "option_id"
    ):
        saved.setdefault(position, set()).add(option_id)
    return saved


def _start_pretest(page, live_server, course) -> int:
    page.goto(f"{live_server.url}/courses/{course}/quizzes/pretest/")
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state()  # the attempt page, its deferred script run
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def _tick(page, position: int) -> int:
    """Tick the first option of question `position` by its label; returns the option's id."""
    option = page.locator("fieldset.question").nth(position - 1).locator("ul.options input").first
    option_id = int(option.get_attribute("value"))
    page.locator(f"label[for=o{option_id}]").click()
    return option_id


def _autosave_status(page):
    return page.locator("[data-autosave-status]")


def test_answers_are_saved_as_chosen_and_survive_a_lost_tab(page, live_server, course):
    page.set_viewport_size({"width": 320, "height": 900})
    _login(page, live_server)
    attempt_id = _start_pretest(page, live_server, course)
    assert _saved_choices(attempt_id) == {}

    first = _tick(page, 1)
    expect(_autosave_status(page)).to_have_text(re.compile(r"^Answers saved at .+\.$"))
    assert page.locator("[data-answered-count]").inner_text() == "1"
    assert _saved_choices(attempt_id) == {1: {first}}
    assert Attempt.objects.get(pk=attempt_id).submitted_at is None  # saved, never graded
    _check(page, "attempt page with the save status shown")

    # The phone drops the tab; the learner comes back to the attempt in a new one.
    context = page.context
    page.close()
    page = context.new_page()
    page.goto(f"{live_server.url}/attempts/{attempt_id}/")
    assert page.locator(f"#o{first}").is_checked()
    assert page.locator("[data-answered-count]").inner_text() == "1"


def test_an_answer_ticked_before_the_script_arrived_is_saved_when_it_does(page, live_server, course):
    """A slow phone shows the form before the script has run: the tick is not lost."""
    _login(page, live_server)
    page.route("**/js/quiz-autosave.js", lambda route: route.abort())
    attempt_id = _start_pretest(page, live_server, course)
    first = _tick(page, 1)
    page.unroute("**/js/quiz-autosave.js")
    page.add_script_tag(url=f"{live_server.url}/static/js/quiz-autosave.js")
    expect(_autosave_status(page)).to_have_text(re.compile(r"^Answers saved at "))
    assert _saved_choices(attempt_id) == {1: {first}}


def test_answers_chosen_offline_are_saved_when_back_online(page, live_server, course):
    _login(page, live_server)
    attempt_id = _start_pretest(page, live_server, course)

    page.context.set_offline(True)
    second = _tick(page, 2)
    expect(_autosave_status(page)).to_contain_text("no connection")
    assert _saved_choices(attempt_id) == {}

    page.context.set_offline(False)
    expect(_autosave_status(page)).to_have_text(re.compile(r"^Answers saved at "), timeout=15_000)
    assert _saved_choices(attempt_id) == {2: {second}}


def test_leaving_with_an_answer_unsent_asks_first_then_sends_it(page, live_server, course):
    _login(page, live_server)
    attempt_id = _start_pretest(page, live_server, course)
    # Hold the delayed save back, so only leaving the page can send the answer.
    page.locator("form[data-autosave-url]").evaluate("form => form.setAttribute('data-autosave-delay', '600000')")
    second = _tick(page, 2)
    page.wait_for_timeout(300)
    assert _saved_choices(attempt_id) == {}

    dialogs = []

    def leave(dialog):
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.goto(f"{live_server.url}/dashboard/")
    assert dialogs == ["beforeunload"]
    for _ in range(50):  # the page-hide save outlives the page; give it a moment to land
        if _saved_choices(attempt_id):
            break
        page.wait_for_timeout(100)
    assert _saved_choices(attempt_id) == {2: {second}}


def test_an_attempt_submitted_in_another_tab_stops_the_saving_and_says_why(page, live_server, course):
    _login(page, live_server)
    attempt_id = _start_pretest(page, live_server, course)
    other = page.context.new_page()
    other.goto(f"{live_server.url}/attempts/{attempt_id}/")
    other.get_by_role("button", name="Submit").click()
    assert Attempt.objects.get(pk=attempt_id).submitted_at is not None

    _tick(page, 1)
    expect(_autosave_status(page)).to_have_text(re.compile(r"^Not saved: .*submitted"))
    assert _saved_choices(attempt_id) == {}
    # Nothing is left pending: leaving asks nothing.
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.goto(f"{live_server.url}/dashboard/")
    assert dialogs == []


def test_without_the_script_the_attempt_page_still_saves_with_its_button(browser, live_server, course):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, live_server)
    attempt_id = _start_pretest(page, live_server, course)
    assert _autosave_status(page).is_hidden()
    first = _tick(page, 1)
    assert _saved_choices(attempt_id) == {}
    page.get_by_role("button", name="Save and finish later").click()
    assert _saved_choices(attempt_id) == {1: {first}}
    context.close()
