"""Sign-up, log-in, log-out, password reset and the CE profile fields."""

import os
import re
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User

PASSWORD = "a-long-unusual-passphrase"  # noqa: S105  # pragma: allowlist secret (a test account's)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_signup_creates_account_with_ce_fields_and_logs_in(client):
    response = client.post(
        reverse("accounts:signup"),
        {
            "email": "new@example.org",
            "full_name": "Jane Q. Smith, PharmD",
            "profession": "pharmacist",
            "npi": "1234567893",
            "nabp_eprofile_id": "123456",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    user = User.objects.get(email="new@example.org")
    assert (user.full_name, user.profession, user.npi, user.nabp_eprofile_id) == (
        "Jane Q. Smith, PharmD", "pharmacist", "1234567893", "123456",
    )
    assert client.get(reverse("accounts:profile")).status_code == HTTPStatus.OK


SIGNUP_DATA = {
    "email": "next@example.org",
    "full_name": "Ana Next",
    "profession": "nurse",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/dashboard/", "/dashboard/"),
        ("https://evil.example.com/phish", "catalogue"),
        ("//evil.example.com/phish", "catalogue"),
        ("", "catalogue"),
    ],
)
def test_signup_follows_next_only_within_the_site(client, next_url, expected):
    response = client.post(reverse("accounts:signup") + "?next=" + next_url, SIGNUP_DATA)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == (reverse("curriculum:catalogue") if expected == "catalogue" else expected)


@pytest.mark.django_db
def test_signup_redirects_a_signed_in_learner(client, django_user_model):
    user = django_user_model.objects.create_user(email="in@example.org", password="x-long-passphrase")
    client.force_login(user)
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("curriculum:catalogue")
    assert django_user_model.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("npi", "12345", "This NPI is not valid"),
        # Ten digits, but the check digit is wrong: the claim would refuse it, so the sign-up does.
        ("npi", "1234567890", "This NPI is not valid"),
        ("nabp_eprofile_id", "ABC", "An NABP e-Profile ID is a number of up to 7 digits"),
        ("nabp_eprofile_id", "12345678", "An NABP e-Profile ID is a number of up to 7 digits"),
        ("email", "LEARNER@EXAMPLE.ORG", "already exists"),
        ("full_name", "", "This field is required."),
        # The certificate font has no such glyphs (credits registers the check; accounts cannot import it).
        ("full_name", "王小明", "The certificate cannot print 王 小 明"),
    ],
)
def test_signup_rejects_bad_input_with_a_clear_message(client, field, value, message):
    User.objects.create_user("learner@example.org", "pw-unused-123", full_name="Existing")
    data = {
        "email": "fresh@example.org",
        "full_name": "A Name",
        "profession": "nurse",
        "password1": PASSWORD,
        "password2": PASSWORD,
        field: value,
    }
    response = client.post(reverse("accounts:signup"), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_login_by_email_in_any_case_and_logout(client):
    User.objects.create_user("mixed@example.org", PASSWORD, full_name="M")
    response = client.post(
        reverse("accounts:login"), {"username": "MIXED@example.org", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.post(reverse("accounts:logout")).status_code == HTTPStatus.FOUND
    assert client.get(reverse("accounts:profile")).status_code == HTTPStatus.FOUND


@pytest.mark.django_db
def test_password_reset_sends_a_working_link(client):
    User.objects.create_user("reset@example.org", "old-passphrase-123", full_name="R")
    client.post(reverse("accounts:password_reset"), {"email": "reset@example.org"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session and redirects
    mismatch = client.post(form_url, {"new_password1": "new-passphrase-456", "new_password2": "other-passphrase"})
    assert mismatch.status_code == HTTPStatus.BAD_REQUEST
    assert "didn’t match" in mismatch.content.decode()
    assert User.objects.get(email="reset@example.org").check_password("old-passphrase-123")
    response = client.post(form_url, {"new_password1": "new-passphrase-456", "new_password2": "new-passphrase-456"})
    assert response.status_code == HTTPStatus.FOUND
    assert User.objects.get(email="reset@example.org").check_password("new-passphrase-456")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        ("accounts:login", {"username": "nobody@example.org", "password": "wrong"},  # pragma: allowlist secret
         "Please enter a correct e-mail address and password"),
        ("accounts:login", {"username": "", "password": ""}, "This field is required."),
        ("accounts:password_reset", {"email": "not-an-address"}, "Enter a valid email address."),
    ],
)
def test_a_form_sent_back_with_errors_is_a_400_that_says_what_is_wrong(client, url, data, message):
    response = client.post(reverse(url), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert mail.outbox == []
    assert "_auth_user_id" not in client.session


def test_production_profile_passes_check_deploy():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 20 + "a-production-like-secret-key-with-enough-entropy-1234567890",
        "DJANGO_ALLOWED_HOSTS": "ce.example.org",
        "CREDITS_PUBLIC_URL": "https://ce.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_the_public_address_is_not_set(settings):
    from django.core.checks import registry

    from lms.checks import public_url_check

    settings.CREDITS_PUBLIC_URL = ""
    (warning,) = public_url_check()
    assert warning.id == "lms.W001" and "relative link" in warning.hint and "localhost:8000" in warning.hint
    settings.CREDITS_PUBLIC_URL = "https://ce.example.org"
    assert public_url_check() == []
    # A deploy check: `check --deploy` runs it, a plain `check` (development) does not.
    assert public_url_check in registry.registry.get_checks(include_deployment_checks=True)
    assert public_url_check not in registry.registry.get_checks()


def test_production_profile_refuses_to_start_without_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["DJANGO_DEBUG"] = "false"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr
