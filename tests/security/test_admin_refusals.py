"""The admin answers bad input with a 400, as every other form here does (config/admin.py).

Django's admin sends a form back with its errors and a 200. Here the page is
the same (the errors where they belong, nothing saved) but the status is a
400, for an add or change form, an inline, the log-in form, the password
change form and an action's own form; pages that are not refusals (a
confirmation asked for by a POST, a valid save) keep their status.
"""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.models import User
from lms.models import Organisation
from tests.accounts.test_sessions import PASSWORD
from tests.factories import UserFactory
from tests.lms.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_an_invalid_add_form_is_a_400_that_shows_the_error_and_saves_nothing(staff):
    response = staff.post(reverse("admin:lms_organisation_add"), {"name": "", "slug": "not a slug!"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    page = response.content.decode()
    assert "This field is required." in page and "Please correct the errors below." in page
    assert not Organisation.objects.exists()


def test_a_valid_add_form_still_redirects(staff):
    response = staff.post(
        reverse("admin:lms_organisation_add"),
        {"name": "Clinic", "slug": "clinic", "is_active": "on", "created_at_0": "2026-11-28", "created_at_1": "09:00:00"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert Organisation.objects.filter(slug="clinic").exists()


def test_an_invalid_change_form_is_a_400_and_leaves_the_row_as_it_was(staff):
    organisation = OrganisationFactory(name="Before")
    url = reverse("admin:lms_organisation_change", args=[organisation.pk])
    response = staff.post(url, {"name": "After", "slug": ""})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    organisation.refresh_from_db()
    assert organisation.name == "Before"


def test_the_change_page_itself_is_still_a_200(staff):
    organisation = OrganisationFactory()
    assert staff.get(reverse("admin:lms_organisation_change", args=[organisation.pk])).status_code == HTTPStatus.OK


def test_a_wrong_password_on_the_admin_log_in_is_a_400(client):
    User.objects.create_user("staff@example.org", PASSWORD, full_name="Staff", is_staff=True)
    response = client.post(reverse("admin:login"), {"username": "staff@example.org", "password": PASSWORD + "x"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Please enter the correct" in response.content.decode()
    response = client.post(reverse("admin:login"), {"username": "staff@example.org", "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND


def test_a_password_change_that_does_not_match_is_a_400(client):
    user = User.objects.create_user("staff@example.org", PASSWORD, full_name="Staff", is_staff=True)
    client.force_login(user)
    response = client.post(
        reverse("admin:password_change"),
        # pragma: allowlist nextline secret
        {"old_password": PASSWORD, "new_password1": "a-new-passphrase-1", "new_password2": "another-one-2"},
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_delete_confirmation_asked_for_by_a_post_is_not_a_refusal(staff):
    organisation = OrganisationFactory()
    response = staff.post(
        reverse("admin:lms_organisation_changelist"),
        {"action": "delete_selected", "_selected_action": [organisation.pk]},
    )
    assert response.status_code == HTTPStatus.OK
    assert "Delete multiple objects" in response.content.decode()
    assert Organisation.objects.filter(pk=organisation.pk).exists()
