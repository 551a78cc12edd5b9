"""Error pages keep the reason: 400, 403, 404 and 500, as a page, or as the API's JSON under /api/."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import path, reverse

from config import urls as site_urls
from tests.factories import UserFactory


def _boom(request):
    raise RuntimeError("a bug")


# The site's URLs and error handlers, and one view that fails.
urlpatterns = [path("boom/", _boom), path("api/boom/", _boom), *site_urls.urlpatterns]
handler400, handler403, handler404, handler500 = (
    site_urls.handler400, site_urls.handler403, site_urls.handler404, site_urls.handler500,
)


def test_a_403_page_says_why(db, client):
    client.force_login(UserFactory(is_staff=True))  # staff, without the report permission
    response = client.get(reverse("credits:report_index"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    page = response.content.decode()
    assert "Not allowed" in page and "Can export credit reports" in page
    assert "Log out" in page  # the site's own page, signed in


def test_a_404_page_is_the_site_s_and_says_what_a_view_said(db, client):
    page = client.get("/no-such-page/")
    assert page.status_code == HTTPStatus.NOT_FOUND
    assert "There is no page at this address." in page.content.decode()
    assert "Clinician CE" in page.content.decode()
    client.force_login(UserFactory(is_staff=True))
    job = client.get(reverse("lms_exports:job_detail", args=[999_999]))
    assert job.status_code == HTTPStatus.NOT_FOUND and "No such export." in job.content.decode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"x": "A" * 3_000_000}, "larger than the 2.5 MB this site accepts"),
        ({f"f{i}": "1" for i in range(1_001)}, "more than the 1000 fields this site accepts"),
    ],
)
def test_a_form_over_the_limits_is_a_400_that_says_which(db, client, body, expected):
    response = client.post(reverse("accounts:login"), body)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert expected in response.content.decode()


def test_an_api_body_over_the_limit_is_the_api_s_json_400(db, client):
    client.force_login(UserFactory())
    big = json.dumps({"answers": [{"question": 1, "options": [1]}] * 100_000})
    response = client.post(reverse("v1:attempt-submit", args=[1]), big, content_type="application/json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": {
        "code": "too_large", "message": "The request body is larger than the 2.5 MB this site accepts.",
        "fields": {},
    }}


@pytest.mark.urls(__name__)
def test_a_server_error_is_a_standalone_page_or_the_api_s_json(db):
    client = Client(raise_request_exception=False)
    page = client.get("/boom/")
    assert page.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "Something went wrong" in page.content.decode() and "a bug" not in page.content.decode()
    api = client.get("/api/boom/")
    assert api.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and api.json()["error"]["code"] == "server_error"
