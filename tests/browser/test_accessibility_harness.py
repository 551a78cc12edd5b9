"""The accessibility check itself can fail: a deliberately broken page is caught."""

from tests.browser.conftest import axe_violations


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
