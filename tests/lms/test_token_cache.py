"""Integration tokens read from the shared cache (lms/token_cache.py, on with LMS_CACHE_URL).

What must hold: a token request whose token is cached makes no token query;
revoking a token, deactivating its organisation, changing its scopes or
deleting it takes effect at the very next request, even with the token
cached, and a request that read the token just before cannot put it back;
the secret is checked on every request; an unreachable cache costs the
query, never the request; and the last-use time is still written. A LocMem
cache stands in for the Redis every app server shares, and one test runs the
real django-redis client.
"""

from http import HTTPStatus
from unittest import mock
from uuid import uuid4

import pytest
import redis
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lms import token_cache
from lms.models import IntegrationToken, Scope
from lms.services import TOKEN_TOUCH_INTERVAL, integration_token_revoke
from tests.lms.factories import token_for
from tests.lms.schema import SchemaCheckedAPIClient as APIClient

pytestmark = pytest.mark.django_db

URL = "v1:progress-feed-list"


def _use_cache(settings, cache: dict):
    settings.CACHES = {**settings.CACHES, "lms": cache}
    settings.LMS_TOKEN_CACHE_ALIAS = "lms"
    caches["lms"].clear()


@pytest.fixture
def shared_cache(settings):
    _use_cache(settings, {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test-tokens"})
    yield caches["lms"]
    caches["lms"].clear()


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _token_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "lms_integrationtoken" in q["sql"]]


def _get(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(URL))
    return response, _token_queries(queries)


def test_a_cached_token_costs_no_query(shared_cache, organisation, django_assert_num_queries):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    with django_assert_num_queries(3):  # token, last-used time, page
        assert client.get(reverse(URL)).status_code == HTTPStatus.OK
    for _ in range(3):
        with django_assert_num_queries(1):  # the page only
            assert client.get(reverse(URL)).status_code == HTTPStatus.OK


def test_without_a_shared_cache_the_token_is_read_every_time(settings, organisation):
    settings.LMS_TOKEN_CACHE_ALIAS = None
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    for _ in range(3):
        response, token_queries = _get(client)
        assert response.status_code == HTTPStatus.OK and token_queries


def test_a_revoked_token_is_refused_at_the_next_request(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    client.get(reverse(URL))
    assert _get(client)[1] == []  # cached
    integration_token_revoke(token=IntegrationToken.objects.get())
    assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED


def test_a_request_that_read_the_token_before_the_revocation_cannot_cache_it_again(shared_cache, organisation):
    """The race the tombstone closes: read (live) -> revoke (forget) -> that request remembers."""
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    read_before = IntegrationToken.objects.select_related("organisation").get()
    integration_token_revoke(token=read_before)
    token_cache.remember(read_before)  # what the earlier request does last
    response, token_queries = _get(client)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert token_queries  # read from the database, not from the stale copy


def test_deactivating_the_organisation_refuses_its_cached_tokens(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    client.get(reverse(URL))
    organisation.is_active = False
    organisation.save()
    assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED
    organisation.is_active = True
    organisation.save()
    assert client.get(reverse(URL)).status_code == HTTPStatus.OK


def test_a_scope_taken_away_is_refused_at_the_next_request(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ, Scope.CATALOG_READ]))
    client.get(reverse(URL))
    token = IntegrationToken.objects.get()
    token.scopes = [Scope.CATALOG_READ]
    token.save()
    response = client.get(reverse(URL))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"]["code"] == "missing_scope"


def test_a_deleted_token_is_refused(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    client.get(reverse(URL))
    IntegrationToken.objects.get().delete()
    assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED


def test_the_secret_is_checked_against_the_cached_token(shared_cache, organisation):
    raw = token_for(organisation, [Scope.PROGRESS_READ])
    _client(raw).get(reverse(URL))
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    response, token_queries = _get(_client(wrong))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert token_queries == []  # refused by the cached digest, not by a second look
    assert _client(raw).get(reverse(URL)).status_code == HTTPStatus.OK


def test_an_unreachable_cache_costs_the_query_not_the_request(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    broken = mock.Mock(side_effect=ConnectionError("cache down"))
    with mock.patch.object(shared_cache, "get", broken), mock.patch.object(shared_cache, "add", broken), \
            mock.patch.object(shared_cache, "set_many", broken):
        response, token_queries = _get(client)
        assert response.status_code == HTTPStatus.OK and token_queries
        integration_token_revoke(token=IntegrationToken.objects.get())  # forgetting fails too
        assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED
    assert broken.call_count == 4  # get, add; set_many (revoking); get


def test_the_last_use_is_written_when_the_token_is_read_from_the_database(shared_cache, organisation):
    client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
    client.get(reverse(URL))
    first = IntegrationToken.objects.get().last_used_at
    assert first is not None
    stale = first - TOKEN_TOUCH_INTERVAL
    IntegrationToken.objects.update(last_used_at=stale)  # no signal: the cached copy stays
    client.get(reverse(URL))
    assert IntegrationToken.objects.get().last_used_at == stale  # a cached read writes nothing
    shared_cache.clear()  # the entry expires (LMS_TOKEN_CACHE_SECONDS)
    client.get(reverse(URL))
    assert IntegrationToken.objects.get().last_used_at > stale


def test_the_real_redis_client_keeps_the_token_and_its_organisation(settings, organisation):
    location = "redis://127.0.0.1:6379/12"
    try:
        redis.Redis.from_url(location, socket_connect_timeout=1).ping()
    except Exception as exc:  # any failure to reach it means no Redis here
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    _use_cache(settings, {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, "KEY_PREFIX": uuid4().hex})
    try:
        client = _client(token_for(organisation, [Scope.PROGRESS_READ]))
        client.get(reverse(URL))
        token = IntegrationToken.objects.get()
        cached = caches["lms"].get(token_cache.token_cache_key(token.lookup))
        assert isinstance(cached, IntegrationToken) and cached.pk == token.pk
        assert cached.organisation.slug == organisation.slug  # no query needed to reach it
        response, token_queries = _get(client)
        assert response.status_code == HTTPStatus.OK and token_queries == []
        integration_token_revoke(token=token)
        assert client.get(reverse(URL)).status_code == HTTPStatus.UNAUTHORIZED
    finally:
        caches["lms"].delete_pattern("*")
