"""The signed-in user read from the shared cache (accounts/backends.py, on with LMS_CACHE_URL).

What must hold: a signed-in page reads neither the session nor the user from
the database; a user deactivated, re-passworded or deleted is signed out at
the next request on every server (the cache entry goes with the save); an
unreachable cache costs the query, never the page; without a shared cache the
backend is Django's ModelBackend. A LocMem cache stands in for the Redis every
app server shares, and one test runs the real django-redis client.
"""

from http import HTTPStatus
from unittest import mock

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import BACKEND_PATH, CachedModelBackend
from accounts.models import User
from tests.accounts.test_sessions import PASSWORD, _is_signed_in, _signed_in
from tests.factories import LessonFactory


def _shared_cache(settings, cache: dict):
    settings.CACHES = {**settings.CACHES, "lms": cache}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.SESSION_CACHE_ALIAS = "lms"
    settings.ACCOUNTS_USER_CACHE_ALIAS = "lms"
    caches["lms"].clear()


@pytest.fixture
def shared_cache(settings):
    _shared_cache(settings, {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-users"})
    yield caches["lms"]
    caches["lms"].clear()


def _user_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if 'FROM "accounts_user"' in q["sql"]]


def _lesson_url() -> str:
    lesson = LessonFactory()
    return reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])


@pytest.mark.django_db
def test_a_signed_in_page_reads_the_user_from_the_cache(shared_cache, django_assert_num_queries):
    User.objects.create_user("reader@example.org", PASSWORD, full_name="R")
    url = _lesson_url()
    client = _signed_in("reader@example.org")
    client.get(url)  # the first request after sign-in fills the cache
    with django_assert_num_queries(1):  # the lessons with progress; no session, no user
        response = client.get(url)
    assert b"Log out" in response.content


@pytest.mark.django_db
def test_without_a_shared_cache_the_user_is_read_every_time(settings):
    settings.ACCOUNTS_USER_CACHE_ALIAS = None
    User.objects.create_user("plain@example.org", PASSWORD, full_name="P")
    url = _lesson_url()
    client = _signed_in("plain@example.org")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == HTTPStatus.OK
    assert len(_user_queries(queries.captured_queries)) == 1


@pytest.mark.django_db
def test_a_deactivated_user_is_signed_out_at_the_next_request(shared_cache):
    user = User.objects.create_user("leaver@example.org", PASSWORD, full_name="L")
    client = _signed_in("leaver@example.org")
    assert _is_signed_in(client)  # cached now

    user.is_active = False
    user.save(update_fields=["is_active"])

    assert not _is_signed_in(client)


@pytest.mark.django_db
def test_a_changed_password_ends_the_other_sessions_despite_the_cache(shared_cache):
    user = User.objects.create_user("change@example.org", PASSWORD, full_name="C")
    other_browser = _signed_in("change@example.org")
    assert _is_signed_in(other_browser)

    user.set_password("another-long-passphrase-2")
    user.save()

    assert not _is_signed_in(other_browser)
    assert _is_signed_in(_signed_in("change@example.org", "another-long-passphrase-2"))


@pytest.mark.django_db
def test_a_deleted_user_is_signed_out(shared_cache):
    user = User.objects.create_user("gone@example.org", PASSWORD, full_name="G")
    client = _signed_in("gone@example.org")
    assert _is_signed_in(client)

    user.delete()

    assert not _is_signed_in(client)


@pytest.mark.django_db
def test_a_profile_change_shows_at_once(shared_cache):
    User.objects.create_user("renamed@example.org", PASSWORD, full_name="Before Name")
    client = _signed_in("renamed@example.org")
    assert b"Before Name" in client.get(reverse("accounts:profile")).content

    user = User.objects.get(email="renamed@example.org")
    user.full_name = "After Name"
    user.save()

    assert b"After Name" in client.get(reverse("accounts:profile")).content


@pytest.mark.django_db
@pytest.mark.parametrize("failing", [("get", "set"), ("set",)])
def test_an_unreachable_cache_costs_the_query_not_the_request(shared_cache, failing):
    user = User.objects.create_user("down@example.org", PASSWORD, full_name="D")
    broken = ConnectionError("cache down")
    patches = [mock.patch.object(type(shared_cache), name, side_effect=broken) for name in failing]
    for patch in patches:
        patch.start()
    try:
        with CaptureQueriesContext(connection) as queries:
            found = CachedModelBackend().get_user(user.pk)
    finally:
        for patch in patches:
            patch.stop()
    assert found == user
    assert len(_user_queries(queries.captured_queries)) == 1


@pytest.mark.django_db
def test_sessions_record_this_backend(shared_cache):
    User.objects.create_user("path@example.org", PASSWORD, full_name="P")
    client = _signed_in("path@example.org")
    from django.contrib.auth import BACKEND_SESSION_KEY

    assert client.session[BACKEND_SESSION_KEY] == BACKEND_PATH


@pytest.mark.django_db
def test_with_the_real_redis_client(settings):
    """The same guarantees through django-redis and a real Redis server (what LMS_CACHE_URL configures)."""
    location = "redis://127.0.0.1:6379/13"
    try:
        import redis

        redis.Redis.from_url(location, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure to reach it means no Redis here
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    _shared_cache(settings, {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location})
    try:
        user = User.objects.create_user("redis@example.org", PASSWORD, full_name="R")
        url = _lesson_url()
        client = _signed_in("redis@example.org")
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert b"Log out" in client.get(url).content
        assert _user_queries(queries.captured_queries) == []
        assert not [q for q in queries.captured_queries if "django_session" in q["sql"]]

        user.is_active = False
        user.save()
        assert not _is_signed_in(client)
    finally:
        caches["lms"].clear()
