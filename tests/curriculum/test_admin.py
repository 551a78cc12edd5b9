"""Authors edit a lesson in the admin through the loader's validation and rendering."""

import html
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from curriculum.models import Lesson
from tests.curriculum.coursedir import write_course


@pytest.fixture
def author_client(client, db):
    author = User.objects.create_superuser("author@example.org", "pw-author-123", full_name="Author")
    client.force_login(author)
    return client


@pytest.fixture
def loaded(tmp_path, db):
    write_course(tmp_path)
    call_command("load_curriculum", content_dir=str(tmp_path), stdout=StringIO())
    return Lesson.objects.select_related("current_version").get(slug="second")


def test_admin_edit_creates_a_new_rendered_version(author_client, loaded):
    url = reverse("admin:curriculum_lesson_change", args=[loaded.pk])
    source = loaded.current_version.source.replace("Placeholder text.", "Edited in the admin.")

    response = author_client.post(url, {"source": source, "is_published": "on"})

    assert response.status_code == HTTPStatus.FOUND
    loaded.refresh_from_db()
    assert loaded.current_version.number == 2
    assert "Edited in the admin." in loaded.current_version.body_html
    assert loaded.current_version.created_by.email == "author@example.org"


def test_admin_edit_with_broken_citation_is_refused_and_writes_nothing(author_client, loaded):
    url = reverse("admin:curriculum_lesson_change", args=[loaded.pk])
    source = loaded.current_version.source.replace("Placeholder text.[^gamma]", "Unsourced.[^nowhere]")

    response = author_client.post(url, {"source": source, "is_published": "on"})

    assert response.status_code == HTTPStatus.OK
    assert "citation [^nowhere] has no entry" in response.content.decode()
    loaded.refresh_from_db()
    assert loaded.current_version.number == 1


def test_admin_edit_with_broken_link_is_refused(author_client, loaded):
    url = reverse("admin:curriculum_lesson_change", args=[loaded.pk])
    source = loaded.current_version.source.replace("(lesson:first)", "(lesson:first#no-such-section)")
    response = author_client.post(url, {"source": source, "is_published": "on"})
    assert "has no section '#no-such-section'" in html.unescape(response.content.decode())
    loaded.refresh_from_db()
    assert loaded.current_version.number == 1


def test_admin_sanitises_raw_html_out(author_client, loaded):
    url = reverse("admin:curriculum_lesson_change", args=[loaded.pk])
    source = loaded.current_version.source.replace("Placeholder text.", "<script>alert(1)</script>")
    response = author_client.post(url, {"source": source, "is_published": "on"})
    assert "raw HTML is not allowed" in response.content.decode()
    loaded.refresh_from_db()
    assert "<script" not in loaded.current_version.body_html
