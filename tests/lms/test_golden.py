"""Golden JSON: the exact body of key endpoints, so a contract change shows in review.

Regenerate a file by deleting it and running the test once (it then fails,
asking for the new file to be checked and committed).
"""

import json
from pathlib import Path

import pytest
from django.urls import reverse

from lms.models import Scope
from tests.factories import CourseFactory, LessonFactory
from tests.lms.schema import assert_matches_schema

GOLDEN = Path(__file__).parent / "golden"

pytestmark = pytest.mark.django_db


def assert_golden(name: str, body) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(body, indent=2, sort_keys=True) + "\n"
    if not path.exists():
        path.write_text(text)
        pytest.fail(f"wrote {path}; check it and commit it")
    assert text == path.read_text()


def test_lesson_detail_body_is_golden(token_client):
    course = CourseFactory(slug="golden-course")
    lesson = LessonFactory(course=course, slug="golden-lesson", position=1)
    response = token_client(Scope.CATALOG_READ).get(reverse("v1:lesson-detail", args=[course.slug, lesson.slug]))
    assert_matches_schema(response)
    assert_golden("lesson_detail", response.json())


def test_validation_error_body_is_golden(token_client):
    response = token_client(Scope.ENROLMENTS_WRITE).post(
        reverse("v1:enrolment-sync"), {"external_id": "bad id", "email": "x"}, format="json"
    )
    assert_matches_schema(response)
    assert_golden("enrolment_sync_invalid", response.json())
