"""The API's lesson payload, cached per process by lesson version (issue #8): fewer queries, never stale."""

from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from curriculum.models import Lesson
from curriculum.services import lesson_revise
from lms.api.v1 import views
from lms.models import Scope
from tests.factories import LessonFactory
from tests.lms.schema import assert_matches_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches():
    cache.clear()
    views._LESSON_PAYLOADS.clear()  # ids are reused after a rolled-back test
    yield
    views._LESSON_PAYLOADS.clear()
    cache.clear()


def test_lesson_payload_is_read_once_then_served_with_one_small_query(learner_api, django_assert_num_queries):
    lesson = LessonFactory()
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    with django_assert_num_queries(2):  # the version key, then the lesson with its text
        first = learner_api.get(url)
    with django_assert_num_queries(1):  # the version key only
        second = learner_api.get(url)
    assert_matches_schema(second)
    assert second.json() == first.json()
    assert second.json()["body_html"] == lesson.current_version.body_html


def test_token_lesson_read_has_a_constant_query_count(token_client, django_assert_num_queries):
    lesson = LessonFactory()
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    client = token_client(Scope.CATALOG_READ)
    client.get(url)
    with django_assert_num_queries(2):  # token, the version key (last use was written a moment ago)
        assert client.get(url).status_code == HTTPStatus.OK


def test_revised_lesson_is_served_new_at_once(learner_api):
    call_command("load_curriculum", verbosity=0)
    lesson = Lesson.objects.select_related("course", "current_version").order_by("pk").first()
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    before = learner_api.get(url).json()
    source = lesson.current_version.source.rstrip("\n") + "\n\nA placeholder closing paragraph for the test.\n"
    assert lesson_revise(lesson=lesson, source=source) is not None
    after = learner_api.get(url).json()
    assert after["version"] == before["version"] + 1
    assert "A placeholder closing paragraph for the test." in after["body_html"]
    assert "A placeholder closing paragraph for the test." not in before["body_html"]


def test_unpublished_lesson_is_404_even_when_cached(learner_api):
    lesson = LessonFactory()
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    assert learner_api.get(url).status_code == HTTPStatus.OK
    Lesson.objects.filter(pk=lesson.pk).update(is_published=False)
    assert learner_api.get(url).status_code == HTTPStatus.NOT_FOUND


def test_moved_lesson_shows_its_new_position(learner_api):
    lesson = LessonFactory(position=1)
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    assert learner_api.get(url).json()["position"] == 1
    Lesson.objects.filter(pk=lesson.pk).update(position=4)
    assert learner_api.get(url).json()["position"] == 4


def test_cached_bytes_are_what_drf_would_render(learner_api):
    """The payload is rendered to JSON once and sent as those bytes: the same bytes DRF's renderer gives."""
    from rest_framework.renderers import JSONRenderer

    from curriculum.selectors import lesson_detail_get

    lesson = LessonFactory()
    url = reverse("v1:lesson-detail", args=[lesson.course.slug, lesson.slug])
    learner_api.get(url)
    cached = learner_api.get(url)
    fresh = views.LessonDetailApi.OutputSerializer(
        lesson_detail_get(course_slug=lesson.course.slug, lesson_slug=lesson.slug)
    ).data
    assert cached["Content-Type"] == "application/json"
    assert cached.content == JSONRenderer().render(fresh)
