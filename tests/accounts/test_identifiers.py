"""The identifier rules the profile and the claim share (accounts/identifiers.py), and the profile
refusing what a claim would refuse later."""

from http import HTTPStatus

import pytest
from django.apps import apps
from django.urls import reverse

from accounts import identifiers
from accounts.models import User
from credits.apps import CreditsConfig
from tests.factories import UserFactory


@pytest.mark.parametrize("npi", ["1234567893", "1245319599"])
def test_npi_with_correct_check_digit_is_valid(npi):
    assert identifiers.npi_is_valid(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1234567894", "123456789", "12345678931", "abcdefghij", ""])
def test_npi_with_wrong_check_digit_or_shape_is_invalid(npi):
    assert not identifiers.npi_is_valid(npi)


@pytest.mark.parametrize(("value", "valid"), [("1234567", True), ("123456", True), ("12345678", False),
                                              ("0123456", False), ("12A4567", False), ("", False)])
def test_nabp_eprofile_id_format(value, valid):
    assert identifiers.nabp_eprofile_is_valid(value) is valid


def test_the_certificate_app_registers_its_name_check_once():
    """credits registers its check as it loads; the name problems come from the certificate font."""
    assert "王" in identifiers.full_name_problem("王小明")
    assert identifiers.full_name_problem("Zoë Ångström-Łukasiewicz") == ""
    assert identifiers.full_name_problem("محمد علي") == ""
    before = len(identifiers._full_name_checks)
    CreditsConfig.ready(apps.get_app_config("credits"))
    assert len(identifiers._full_name_checks) == before


PROFILE = {"email": "p@example.org", "full_name": "Jane Q. Smith, MD", "profession": "physician", "npi": "",
           "nabp_eprofile_id": "", "licence_number": "", "licence_state": ""}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("npi", "1234567890", "This NPI is not valid: check the 10 digits (the last is a check digit)."),
        ("nabp_eprofile_id", "1234567890", "An NABP e-Profile ID is a number of up to 7 digits"),
        ("full_name", "김민수", "The certificate cannot print 김 민 수."),
        ("licence_state", "0H", "Use the two-letter state code"),
    ],
)
def test_profile_refuses_what_the_claim_would_refuse_and_changes_nothing(client, field, value, message):
    user = UserFactory(email="p@example.org", full_name="Jane Q. Smith, MD", npi="1234567893")
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {**PROFILE, "npi": "1234567893", field: value})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    user.refresh_from_db()
    assert (user.full_name, user.npi, user.nabp_eprofile_id, user.licence_state) == (
        "Jane Q. Smith, MD", "1234567893", "", "")


@pytest.mark.django_db
def test_profile_saves_valid_identifiers_and_a_name_the_certificate_prints(client):
    user = UserFactory(email="p@example.org")
    client.force_login(user)
    data = {**PROFILE, "full_name": "  محمد علي  ", "npi": "1245319599", "nabp_eprofile_id": "1234567",
            "licence_state": "oh", "licence_number": "35.123456"}
    response = client.post(reverse("accounts:profile"), data)
    assert response.status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert (user.full_name, user.npi, user.nabp_eprofile_id, user.licence_state) == (
        "محمد علي", "1245319599", "1234567", "OH")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("npi", "1234567890", "This NPI is not valid"),
        ("nabp_eprofile_id", "99999999", "An NABP e-Profile ID is a number of up to 7 digits"),
        ("full_name", "王小明", "The certificate cannot print 王 小 明."),
    ],
)
def test_staff_editing_a_learner_in_the_admin_meet_the_same_rules(admin_client, field, value, message):
    learner = UserFactory(email="l@example.org", full_name="Jane Q. Smith, MD", npi="1234567893")
    url = reverse("admin:accounts_user_change", args=[learner.pk])
    data = {"email": "l@example.org", "full_name": "Jane Q. Smith, MD", "profession": "physician",
            "npi": "1234567893", "nabp_eprofile_id": "", "licence_number": "", "licence_state": "",
            "is_active": "on", "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-11-01",
            "date_joined_1": "09:00:00", field: value}
    response = admin_client.post(url, data)
    assert response.status_code == HTTPStatus.BAD_REQUEST  # the admin's own form page, with the error
    assert message in response.content.decode()
    learner.refresh_from_db()
    assert (learner.full_name, learner.npi, learner.nabp_eprofile_id) == ("Jane Q. Smith, MD", "1234567893", "")
    # The same form with valid values saves: the refusal above is the rule, not a broken form.
    ok = admin_client.post(url, {**data, field: {"npi": "1245319599", "nabp_eprofile_id": "1234567",
                                                 "full_name": "Zoë Ångström"}[field]})
    assert ok.status_code == HTTPStatus.FOUND, ok.content.decode()[:2000]


@pytest.mark.django_db
def test_staff_adding_an_account_in_the_admin_meet_the_name_rule(admin_client):
    response = admin_client.post(reverse("admin:accounts_user_add"), {
        "email": "new@example.org", "full_name": "김민수", "usable_password": "true",  # pragma: allowlist secret
        # pragma: allowlist nextline secret
        "password1": "a-long-unusual-passphrase", "password2": "a-long-unusual-passphrase"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The certificate cannot print 김 민 수." in response.content.decode()
    assert not User.objects.filter(email="new@example.org").exists()
