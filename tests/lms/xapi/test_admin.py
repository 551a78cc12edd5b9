"""Staff set up an organisation's LRS in the admin; its secret is write-only."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from lms.xapi.models import LrsEndpoint
from tests.factories import UserFactory
from tests.lms.factories import OrganisationFactory


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _form(organisation, **overrides):
    data = {"organisation": organisation.pk, "url": "https://lrs.example.org/xAPI/", "key": "lms",
            # pragma: allowlist nextline secret
            "secret": "first-secret", "actor_home_page": "https://lms.example.org", "is_active": "on"}
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_staff_add_an_endpoint_and_its_secret_is_never_shown_again(staff_client):
    organisation = OrganisationFactory()
    response = staff_client.post(reverse("admin:xapi_lrsendpoint_add"), _form(organisation))
    assert response.status_code == HTTPStatus.FOUND
    endpoint = LrsEndpoint.objects.get()
    assert endpoint.secret == "first-secret"  # pragma: allowlist secret
    page = staff_client.get(reverse("admin:xapi_lrsendpoint_change", args=[endpoint.pk]))
    assert page.status_code == HTTPStatus.OK
    assert b"first-secret" not in page.content


@pytest.mark.django_db
def test_saving_without_a_new_secret_keeps_the_old_one(staff_client):
    organisation = OrganisationFactory()
    endpoint = LrsEndpoint.objects.create(organisation=organisation, url="https://lrs.example.org/xAPI/",
                                          # pragma: allowlist nextline secret
                                          key="lms", secret="kept", actor_home_page="https://lms.example.org")
    response = staff_client.post(reverse("admin:xapi_lrsendpoint_change", args=[endpoint.pk]),
                                 _form(organisation, secret="", key="renamed"))
    assert response.status_code == HTTPStatus.FOUND
    endpoint.refresh_from_db()
    assert (endpoint.key, endpoint.secret) == ("renamed", "kept")


@pytest.mark.django_db
def test_an_organisation_has_one_active_endpoint(staff_client):
    organisation = OrganisationFactory()
    LrsEndpoint.objects.create(organisation=organisation, url="https://a.example.org/xAPI/",
                               key="lms", secret="s", actor_home_page="https://lms.example.org")
    response = staff_client.post(reverse("admin:xapi_lrsendpoint_add"), _form(organisation))
    assert response.status_code == HTTPStatus.BAD_REQUEST  # the form shows the error
    assert LrsEndpoint.objects.count() == 1
