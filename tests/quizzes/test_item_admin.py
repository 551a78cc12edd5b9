"""Authors edit an item in the admin as YAML, through the loader's validation."""

import html
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from quizzes.models import Item
from tests.curriculum.coursedir import write_course


@pytest.fixture
def item(tmp_path, db, settings):
    write_course(tmp_path)
    settings.CURRICULUM_CONTENT_DIR = tmp_path
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    return Item.objects.select_related("current_version").get(key="q-01")


def test_admin_item_edit_creates_a_new_version(author_client, item):
    source = item.current_version.source.replace("Placeholder stem?", "An edited placeholder stem?")
    response = author_client.post(
        reverse("admin:quizzes_item_change", args=[item.pk]), {"source": source, "is_active": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    item.refresh_from_db()
    assert item.current_version.number == 2
    assert "An edited placeholder stem?" in item.current_version.stem_html
    assert [o.is_correct for o in item.current_version.options.order_by("position")] == [True, False, False]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("objective: L1.1", "objective: L9.9", "objective 'L9.9' is not an objective"),
        ("references:\n- alpha", "references:\n- gamma", "reference 'gamma' is not in lesson 'first'"),
        ("section: first#background", "section: first#nowhere", "has no section '#nowhere'"),
        ("  rationale: Nor this.\n", "", "has no rationale"),
        ("key: q-01", "key: q-99", "the key cannot change"),
        ("Placeholder stem?", "A miracle cure?", "banned promotional phrase 'miracle cure'"),
    ],
)
def test_admin_item_edit_with_a_problem_is_refused_and_writes_nothing(author_client, item, old, new, message):
    source = item.current_version.source
    assert old in source
    response = author_client.post(
        reverse("admin:quizzes_item_change", args=[item.pk]),
        {"source": source.replace(old, new), "is_active": "on"},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in html.unescape(response.content.decode())
    item.refresh_from_db()
    assert item.current_version.number == 1
