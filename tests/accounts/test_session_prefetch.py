"""The session and the signed-in user read in one Redis round trip (accounts/sessions.py).

What must hold: once a session has its hint, a signed-in page costs one Redis
command for both reads and no query for either; a hint that names another user
is never believed (the session's own user id decides) and is corrected; signing
out deletes the hint; deactivation and password changes still sign the user out
at the next request; a failing script falls back to the two reads; a prefetched
user is used once, by the request that read it, for the user id it was read for;
and with a cache that is not django-redis the engine is Django's cached_db.
Runs against the real Redis on 127.0.0.1:6379 (every key under a prefix of its own).
"""

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http import HTTPStatus
from unittest import mock
from uuid import uuid4

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.db import connections
from django.urls import reverse

from accounts import sessions
from accounts.backends import user_cache_key
from accounts.models import User
from tests.accounts.test_sessions import PASSWORD, _is_signed_in, _signed_in
from tests.accounts.test_user_cache import _shared_cache
from tests.factories import LessonFactory

LOCATION = "redis://127.0.0.1:6379/12"


@pytest.fixture
def redis_cache(settings):
    try:
        redis.Redis.from_url(LOCATION, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure to reach it means no Redis here
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    settings.CACHES = {
        **settings.CACHES,
        "lms": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": LOCATION, "KEY_PREFIX": uuid4().hex},
    }
    settings.SESSION_ENGINE = "accounts.sessions"
    settings.SESSION_CACHE_ALIAS = "lms"
    settings.ACCOUNTS_USER_CACHE_ALIAS = "lms"
    yield caches["lms"]  # never cleared: FLUSHDB would reach other workers' tests; this prefix is deleted
    caches["lms"].delete_pattern("*")


@contextmanager
def redis_commands():
    """The names of the Redis commands sent inside the block."""
    seen: list[str] = []
    original = redis.Redis.execute_command

    def record(self, *args, **options):
        seen.append(str(args[0]).upper())
        return original(self, *args, **options)

    with mock.patch.object(redis.Redis, "execute_command", record):
        yield seen


def _run_async(method):
    """Run an async function to completion on a new event loop in another thread (browser tests
    leave Playwright's loop in this one), in a copy of this thread's context variables."""
    async def run():
        try:
            return await method()
        finally:  # the database connection its sync parts opened, in asgiref's thread
            await sync_to_async(connections.close_all)()

    context = contextvars.copy_context()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(context.run, asyncio.run, run()).result()


def _hint_key(cache, client) -> str:
    return str(cache.client.make_key(sessions.HINT_PREFIX + client.cookies["sessionid"].value))


def _raw(cache):
    return cache.client.get_client(write=True)


def _lesson_url() -> str:
    lesson = LessonFactory()
    return reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug])


@pytest.mark.django_db
def test_a_signed_in_page_reads_session_and_user_in_one_round_trip(redis_cache, django_assert_num_queries):
    user = User.objects.create_user("one@example.org", PASSWORD, full_name="Reader One")
    url = _lesson_url()
    client = _signed_in("one@example.org")
    with redis_commands() as first:
        client.get(url)  # no hint yet: the two reads, then the hint is written
    assert first.count("GET") == 1 and "SET" in first
    assert _raw(redis_cache).get(_hint_key(redis_cache, client)) == str(user.pk).encode()

    with redis_commands() as seen, django_assert_num_queries(1):  # the lessons with progress only
        response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    assert b"Log out" in response.content
    assert seen == ["EVALSHA"]


@pytest.mark.django_db
def test_a_hint_naming_another_user_is_not_believed(redis_cache):
    victim = User.objects.create_user("victim@example.org", PASSWORD, full_name="Victim Person")
    User.objects.create_user("other@example.org", PASSWORD, full_name="Other Person")
    other = _signed_in("other@example.org")
    assert b"Other Person" in other.get(reverse("accounts:profile")).content  # its user entry is cached
    victim_browser = _signed_in("victim@example.org")
    victim_browser.get(reverse("accounts:profile"))
    other_id = User.objects.get(email="other@example.org").pk
    _raw(redis_cache).set(_hint_key(redis_cache, victim_browser), str(other_id))

    page = victim_browser.get(reverse("accounts:profile"))

    assert b"Victim Person" in page.content and b"Other Person" not in page.content
    assert _raw(redis_cache).get(_hint_key(redis_cache, victim_browser)) == str(victim.pk).encode()


@pytest.mark.django_db
def test_signing_out_deletes_the_hint(redis_cache):
    User.objects.create_user("out@example.org", PASSWORD, full_name="O")
    client = _signed_in("out@example.org")
    assert _is_signed_in(client)
    key = _hint_key(redis_cache, client)
    assert _raw(redis_cache).exists(key)

    assert client.post(reverse("accounts:logout")).status_code == HTTPStatus.FOUND

    assert not _raw(redis_cache).exists(key)


@pytest.mark.django_db(transaction=True)
def test_the_async_paths_delete_the_hint_and_prefetch_nothing(redis_cache):
    user = User.objects.create_user("async@example.org", PASSWORD, full_name="A")
    client = _signed_in("async@example.org")
    assert _is_signed_in(client)
    key = _hint_key(redis_cache, client)
    store = sessions.SessionStore(client.cookies["sessionid"].value)
    store.load()  # prefetches for this user

    async def load_then_take():  # as an async view would: load the session, then ask for the user
        await store.aload()
        return sessions.take_prefetched(user.pk)

    assert _run_async(load_then_take) is None  # the async load cleared what the sync one left, and read none

    _run_async(store.adelete)

    assert not _raw(redis_cache).exists(key)
    assert not _is_signed_in(client)


@pytest.mark.django_db
def test_deactivation_and_password_change_still_sign_out(redis_cache):
    leaver = User.objects.create_user("leaver@example.org", PASSWORD, full_name="L")
    changer = User.objects.create_user("changer@example.org", PASSWORD, full_name="C")
    leaver_browser, changer_browser = _signed_in("leaver@example.org"), _signed_in("changer@example.org")
    for browser in (leaver_browser, changer_browser):
        assert _is_signed_in(browser) and _is_signed_in(browser)  # hinted and cached now

    leaver.is_active = False
    leaver.save(update_fields=["is_active"])
    changer.set_password("another-long-passphrase-2")
    changer.save()

    assert not _is_signed_in(leaver_browser)
    assert not _is_signed_in(changer_browser)


@pytest.mark.django_db
def test_a_failing_script_falls_back_to_the_two_reads(redis_cache):
    User.objects.create_user("fallback@example.org", PASSWORD, full_name="Fallback Reader")
    client = _signed_in("fallback@example.org")
    client.get(reverse("accounts:profile"))
    with (
        mock.patch.object(sessions._FastPath, "read", side_effect=redis.ConnectionError("script lost")),
        redis_commands() as seen,
    ):
        page = client.get(reverse("accounts:profile"))
    assert page.status_code == HTTPStatus.OK and b"Fallback Reader" in page.content
    assert seen.count("GET") == 2  # the session, then the user


@pytest.mark.django_db
def test_a_prefetched_user_serves_one_get_user_for_its_own_id(redis_cache):
    user = User.objects.create_user("once@example.org", PASSWORD, full_name="Once")
    client = _signed_in("once@example.org")
    client.get(reverse("accounts:profile"))  # hint and user entry written
    store = sessions.SessionStore(client.cookies["sessionid"].value)
    store.load()

    assert sessions.take_prefetched(user.pk + 1) is None  # another id: not this one's
    found = sessions.take_prefetched(user.pk)
    assert found is not None and found.hinted and found.user() == user
    assert sessions.take_prefetched(user.pk) is None  # used once

    store.load()
    sessions.SessionStore(None).load()  # the next load, even of no session, clears what was left
    assert sessions.take_prefetched(user.pk) is None


@pytest.mark.django_db
def test_with_another_cache_backend_the_engine_is_cached_db(settings, django_assert_num_queries):
    _shared_cache(settings, {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-prefetch"})
    settings.SESSION_ENGINE = "accounts.sessions"
    User.objects.create_user("plain@example.org", PASSWORD, full_name="P")
    url = _lesson_url()
    client = _signed_in("plain@example.org")
    client.get(url)
    with django_assert_num_queries(1):  # session and user from the cache, as with cached_db
        assert b"Log out" in client.get(url).content
    assert caches["lms"].get(user_cache_key(User.objects.get().pk)) is not None
    caches["lms"].clear()
