"""Sessions with a shared cache (config/settings.py: cached_db on the "lms" cache when
LMS_CACHE_URL names Redis): signing in, out and changing the password end sessions
everywhere, and a signed-in page skips the session query.

One LocMem cache stands in for the Redis that every app server shares; two test
clients stand in for two browsers (or one browser reaching two servers).
"""

from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import LessonFactory

PASSWORD = "a-long-unusual-passphrase"  # pragma: allowlist secret


@pytest.fixture
def cached_sessions(settings):
    settings.CACHES = {
        **settings.CACHES,
        "lms": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-sessions"},
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.SESSION_CACHE_ALIAS = "lms"
    from django.core.cache import caches

    caches["lms"].clear()
    yield
    caches["lms"].clear()


def _signed_in(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": email, "password": password})
    assert response.status_code == HTTPStatus.FOUND
    return client


def _is_signed_in(client: Client) -> bool:
    return client.get(reverse("accounts:profile")).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_cached_session_page_skips_the_session_query(cached_sessions, django_assert_num_queries):
    User.objects.create_user("reader@example.org", PASSWORD, full_name="R")
    lesson = LessonFactory()
    client = _signed_in("reader@example.org")
    url = reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])
    client.get(url)
    with django_assert_num_queries(2):  # user, lessons with progress: the session comes from the cache
        response = client.get(url)
    assert b"Log out" in response.content


@pytest.mark.django_db
def test_sign_out_ends_the_cached_session_for_every_copy_of_the_cookie(cached_sessions):
    User.objects.create_user("out@example.org", PASSWORD, full_name="O")
    client = _signed_in("out@example.org")
    assert _is_signed_in(client)
    stolen = Client()
    stolen.cookies["sessionid"] = client.cookies["sessionid"].value
    assert _is_signed_in(stolen)

    assert client.post(reverse("accounts:logout")).status_code == HTTPStatus.FOUND

    assert not _is_signed_in(stolen)
    assert not _is_signed_in(client)


@pytest.mark.django_db
def test_password_change_ends_other_cached_sessions(cached_sessions):
    user = User.objects.create_user("change@example.org", PASSWORD, full_name="C")
    other_browser = _signed_in("change@example.org")
    assert _is_signed_in(other_browser)  # now in the cache

    user.set_password("another-long-passphrase-2")
    user.save()

    assert not _is_signed_in(other_browser)
    assert _is_signed_in(_signed_in("change@example.org", "another-long-passphrase-2"))
