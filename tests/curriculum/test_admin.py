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

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "citation [^nowhere] has no entry" in response.content.decode()
    loaded.refresh_from_db()
    assert loaded.current_version.number == 1


def test_admin_edit_with_broken_link_is_refused(author_client, loaded):
    url = reverse("admin:curriculum_lesson_change", args=[loaded.pk])
    source = loaded.current_version.source.replace("(lesson:first)", "(lesson:first#no-such-section)")
    response = author_client.post(url, {"source": source, "is_published": "on"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
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


def _events(learner, verbs: list[str], start: int = 0) -> None:
    from django.utils import timezone

    from curriculum.models import LearnerEvent

    LearnerEvent.objects.bulk_create(
        LearnerEvent(learner=learner, verb=verb, object_ref=f"test.thing:{start + i}", occurred_at=timezone.now())
        for i, verb in enumerate(verbs)
    )


def test_the_outbox_list_filters_by_each_verb_it_holds_without_reading_every_event(author_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    learner = User.objects.create_user("learner@example.org", "pw-learner-123", full_name="Learner")
    _events(learner, ["completed", "experienced", "experienced", "passed"])
    url = reverse("admin:curriculum_learnerevent_changelist")

    with CaptureQueriesContext(connection) as ran:
        response = author_client.get(url)
    assert response.status_code == HTTPStatus.OK
    offered = [choice["display"] for choice in response.context["cl"].filter_specs[0].choices(response.context["cl"])]
    assert offered == ["All", "completed", "experienced", "passed"]
    assert not [q["sql"] for q in ran.captured_queries if "DISTINCT" in q["sql"].upper()]

    filtered = author_client.get(url, {"verb": "experienced"})
    assert [event.verb for event in filtered.context["cl"].result_list] == ["experienced", "experienced"]


@pytest.mark.postgres
def test_the_outbox_verbs_are_read_one_index_probe_a_verb(db):
    """As many rows read for the verbs with 40 events as with 4: `SELECT DISTINCT verb` read them all."""
    from curriculum.selectors import _LEARNER_EVENT_VERBS_SQL, learner_event_verbs
    from tests.scale import explain_rows

    learner = User.objects.create_user("learner@example.org", "pw-learner-123", full_name="Learner")
    tables = frozenset({"curriculum_learnerevent"})
    _events(learner, ["answered", "completed", "experienced", "passed"])
    before = explain_rows(_LEARNER_EVENT_VERBS_SQL, [], tables)
    _events(learner, ["answered", "completed", "experienced", "passed"] * 9, start=4)
    after = explain_rows(_LEARNER_EVENT_VERBS_SQL, [], tables)

    assert learner_event_verbs() == ["answered", "completed", "experienced", "passed"]
    assert before == after <= 2 * 5  # a probe a verb, and one to find there are no more
    # The check can fail: the old query reads every event.
    assert explain_rows("SELECT DISTINCT verb FROM curriculum_learnerevent", [], tables) == 40
