"""The accessibility check itself can fail: a deliberately broken page is caught."""

from tests.browser.conftest import (
    accessibility_problems,
    axe_violations,
    detached_choices,
    horizontal_overflow,
)


def test_axe_reports_violations_on_a_broken_snippet(page):
    page.set_content('<html lang="en"><body><main><img src="x.png"><input type="text"></main></body></html>')
    ids = {v["id"] for v in axe_violations(page)}
    assert {"image-alt", "label"} <= ids


def test_axe_passes_the_fixed_snippet(page):
    page.set_content(
        '<html lang="en"><head><title>ok</title></head><body><main><h1>ok</h1><img src="x.png" alt="A chart">'
        '<label for="i">Name</label><input id="i" type="text"></main></body></html>'
    )
    assert axe_violations(page) == []


_LONG_REFERENCE = (
    '<html lang="en"><head><title>ok</title><meta name="viewport" content="width=device-width, initial-scale=1">'
    "<style>{style}</style></head><body><main><h1>ok</h1><ol><li>Report. "
    '<a href="#r">https://www.example.org/a/very/long/path/without/any/place/to/break/it/9f3b2c</a></li></ol>'
    '<div style="overflow-x: auto"><table><tr>{cells}</tr></table></div></main></body></html>'
)


def test_the_reflow_check_catches_a_page_wider_than_a_phone(page):
    page.set_viewport_size({"width": 320, "height": 640})
    page.set_content(_LONG_REFERENCE.format(style="", cells="<td>a</td>"))
    problems = accessibility_problems(page)
    assert [p["id"] for p in problems] == ["reflow (WCAG 1.4.10)"]
    assert problems[0]["sticking_out"][0].startswith("a: https://www.example.org/a/very/long")


def test_the_reflow_check_passes_wrapped_text_and_a_table_that_scrolls_in_its_own_region(page):
    page.set_viewport_size({"width": 320, "height": 640})
    # The table is wider than the phone, but scrolls inside its wrapper, as a lesson's does.
    page.set_content(_LONG_REFERENCE.format(style="body { overflow-wrap: break-word; }", cells="<td>column</td>" * 60))
    assert horizontal_overflow(page) is None
    assert page.evaluate("document.querySelector('table').scrollWidth") > 320


_CHOICE = (
    '<html lang="en"><head><title>ok</title><style>{style}</style></head><body><main><h1>ok</h1>'
    '<fieldset><legend>Agree?</legend><div><input type="radio" name="a" id="a1"> <label for="a1">Agree</label></div>'
    '<div><input type="radio" name="a" id="a2"> <label for="a2">Disagree</label></div></fieldset></main></body></html>'
)


def test_the_choice_check_catches_a_radio_set_above_its_label(page):
    page.set_viewport_size({"width": 320, "height": 640})
    page.set_content(_CHOICE.format(style="input { display: block; width: 100%; } label { display: block; }"))
    assert detached_choices(page) == ["Agree", "Disagree"]
    page.set_content(_CHOICE.format(style=""))
    assert detached_choices(page) == []
