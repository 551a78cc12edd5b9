"""No page writes a number into an attribute by locale (templates/base.html renders its blocks,
and the lesson fragments theirs, with `localize off`).

A learner's pages hold ids in form fields, anchors and links ("q1234", a
choice's value, an attempt's URL): formatted by a locale that groups
digits, "1,234" would break the form or the link that names it. Here a
locale format (FORMAT_MODULE_PATH, tests/number_formats) groups every digit
with "§" and thousands separators are on: no attribute of any page a
clinician opens on the way to a certificate may hold a "§", and no number
written plainly in the text either. Scores shown through `floatformat` may
(the filter localizes by itself, and a score is text to read, not an id).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import formats

from tests.factories import UserFactory
from tests.test_scale import BundledCourse, _pages

pytestmark = pytest.mark.django_db


@pytest.fixture
def grouping_every_digit(settings):
    settings.FORMAT_MODULE_PATH = "tests.number_formats"
    settings.USE_THOUSAND_SEPARATOR = True
    formats.reset_format_cache()
    yield
    formats.reset_format_cache()


def test_a_learners_pages_format_no_number_by_locale(grouping_every_digit):
    assert formats.number_format(1234) == "1§2§3§4"  # the locale format is in force
    world = BundledCourse()
    learner = UserFactory()
    world.enrol(learner, world.organisation)
    world.history(learner)
    client = Client()
    client.force_login(learner)
    pages = [path for path, headers in _pages(world, learner) if not headers]
    checked = 0
    for path in pages:
        response = client.get(path)
        assert response.status_code in (200, 302), path  # 302: a form already filled (evaluation, claim)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        assert re.findall(r'[\w-]+="[^"]*§[^"]*"', html) == [], path
        scores = set(re.findall(r"[\d§]+(?:\.\d+)?%", html))
        plain = re.sub(r"[\d§]+(?:\.\d+)?%", "", html)
        assert "§" not in plain, (path, plain[max(0, plain.find("§") - 200):plain.find("§") + 50], scores)
        checked += 1
    assert checked >= 10
