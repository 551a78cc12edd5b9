"""A new learner signs up, opens the course, reads a lesson and sees progress move."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.curriculum.coursedir import write_course


@pytest.fixture
def test_course(transactional_db, tmp_path, settings):
    write_course(tmp_path)
    settings.STATICFILES_DIRS = [settings.BASE_DIR / "static", ("content", tmp_path)]
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    return "test-course"


@pytest.mark.parametrize("width", [1280, 320])
def test_signup_read_lesson_and_progress_moves(page, live_server, test_course, assert_accessible, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + "/")
    assert_accessible(page, "catalogue")

    page.get_by_role("link", name="Sign up").first.click()
    assert_accessible(page, "sign-up")
    page.get_by_label("E-mail address").fill(f"new{width}@example.org")
    page.get_by_label("Full name for certificates").fill("Jane Q. Smith, MD")
    page.get_by_label("Profession").select_option("physician")
    page.locator("#id_password1").fill("a-long-unusual-passphrase")
    page.get_by_label("Password confirmation").fill("a-long-unusual-passphrase")
    page.get_by_role("button", name="Create account").click()

    page.get_by_role("link", name="Test course").click()
    assert "0 of 2 lessons complete (0%)" in page.get_by_test_id("progress-text").inner_text()
    assert_accessible(page, "course page")

    page.get_by_role("link", name="First lesson").first.click()
    assert page.get_by_role("heading", name="Learning objectives").is_visible()
    assert page.locator("#references").is_visible()
    assert_accessible(page, "lesson page")
    page.get_by_role("button", name="Mark complete and continue").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Second lesson"
    assert "1 of 2 lessons complete (50%)" in page.get_by_test_id("progress-text").inner_text()

    page.goto(live_server.url + f"/courses/{test_course}/interactions/?q=placeholder")
    assert page.get_by_role("heading", name="Placeholder drug").is_visible()
    assert_accessible(page, "interaction explorer")
