"""Registration in the admin, the shared launch-state store, and the selection page's queries."""

import re
from http import HTTPStatus

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from lms.lti import tool
from lms.lti.models import Platform
from tests.factories import CourseFactory, LessonFactory


@pytest.mark.django_db
def test_registering_a_platform_in_the_admin_generates_its_tool_key(admin_client):
    response = admin_client.post(reverse("admin:lti_platform_add"), {
        "name": "Canvas", "issuer": "https://canvas.example.edu", "client_id": "1000",
        "auth_login_url": "https://canvas.example.edu/api/lti/authorize_redirect",
        "auth_token_url": "https://canvas.example.edu/login/oauth2/token",
        "auth_audience": "", "key_set_url": "https://canvas.example.edu/api/lti/security/jwks",
        "deployment_ids": '["1:abc"]', "frame_origins": "https://canvas.example.edu", "is_active": "on",
        "created_at_0": "2026-11-25", "created_at_1": "12:00:00",
    })

    assert response.status_code == HTTPStatus.FOUND, response.content
    platform = Platform.objects.get()
    assert platform.tool_private_key.startswith("-----BEGIN PRIVATE KEY-----")  # pragma: allowlist secret
    assert admin_client.get(reverse("lti:jwks")).json()["keys"][0]["kid"] == platform.tool_kid


def test_launch_state_lives_in_a_cache_every_app_server_shares():
    """A login served by one app server and its launch by another must meet: not a per-process cache."""
    assert not isinstance(caches[tool.cache_alias()], LocMemCache)


@pytest.mark.django_db
def test_replay_is_refused_with_the_redis_cache(client, launch, course):
    redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/14"}
    try:
        import redis as redis_client

        redis_client.Redis.from_url(redis["LOCATION"]).ping()
    except Exception as exc:  # any failure to reach it means no Redis here
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    with override_settings(CACHES={"default": redis, "lms": redis}, LTI_CACHE_ALIAS="lms"):
        first = launch(custom={"course": course.slug})
        assert first.status_code == HTTPStatus.FOUND
        # The same id_token and state again, taken from the platform's last form.
        auth = client.get(launch.platform.login_url(sub="lms-user-1"))
        form = launch.platform.resource_launch(auth["Location"], sub="lms-user-1", custom={"course": course.slug})
        fields = {"id_token": form["id_token"], "state": form["state"]}
        assert client.post(form["launch_url"], fields).status_code == HTTPStatus.FOUND
        assert client.post(form["launch_url"], fields).status_code == HTTPStatus.FORBIDDEN
        caches["lms"].clear()


@pytest.mark.django_db
@pytest.mark.parametrize("n_courses", [1, 5])
def test_selection_page_queries_do_not_grow_with_the_catalogue(client, platform, registered, n_courses):
    for _ in range(n_courses):
        LessonFactory.create_batch(2, course=CourseFactory())
    auth = client.get(platform.login_url(sub="instructor-1", hint="deep-link"))
    form = platform.deep_link_launch(auth["Location"], sub="instructor-1")

    with CaptureQueriesContext(connection) as queries:
        page = client.post(form["launch_url"], {"id_token": form["id_token"], "state": form["state"]})

    assert page.status_code == HTTPStatus.OK
    assert len(re.findall(rb'name="choice" value="lesson:', page.content)) == 2 * n_courses
    catalogue = [q for q in queries.captured_queries if "curriculum_" in q["sql"]]
    assert len(catalogue) == 2  # courses, lessons (with their versions)
