"""The real course renders in Chromium: course page, every lesson, figures, explorer; axe-clean."""

from io import StringIO

import pytest
from django.core.management import call_command

from curriculum.models import Lesson

COURSE = "kratom-for-clinicians"


@pytest.fixture
def bundled_course(transactional_db):
    call_command("load_curriculum", stdout=StringIO())
    return list(Lesson.objects.published().filter(course__slug=COURSE).order_by("position").values_list("slug", flat=True))


@pytest.mark.parametrize("width", [1280, 320])
def test_every_page_of_the_course_renders_accessibly(page, live_server, bundled_course, assert_accessible, width):
    page.set_viewport_size({"width": width, "height": 900})
    assert len(bundled_course) == 7
    page.goto(f"{live_server.url}/courses/{COURSE}/")
    assert "Kratom for Clinicians" in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_text("This activity is not accredited").is_visible()
    assert_accessible(page, "course page")

    for slug in bundled_course:
        page.goto(f"{live_server.url}/courses/{COURSE}/lessons/{slug}/")
        assert page.locator("#references li").count() >= 5, slug
        for image in page.locator(".lesson-body img").all():
            assert image.get_attribute("alt"), slug
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"figure did not load on {slug}"
        assert_accessible(page, f"lesson {slug}")

    page.goto(f"{live_server.url}/courses/{COURSE}/interactions/")
    all_rows = page.locator("article.interaction").count()
    assert all_rows >= 8
    page.get_by_label("Drug or class").fill("sertraline")
    page.get_by_role("button", name="Search").click()
    assert 0 < page.locator("article.interaction").count() < all_rows
    assert_accessible(page, "interaction explorer")


def test_both_figures_are_embedded(page, live_server, bundled_course):
    sources = []
    for slug in ("pharmacology", "drug-interactions"):
        page.goto(f"{live_server.url}/courses/{COURSE}/lessons/{slug}/")
        sources += [img.get_attribute("src") for img in page.locator(".lesson-body img").all()]
    assert any(src.endswith("alkaloids-metabolism.svg") for src in sources)
    assert any(src.endswith("interaction-mechanisms.svg") for src in sources)
