"""Sign-up attempts are limited per client address (accounts/views.py: SignUpView).

Every attempt counts, valid or not; past the limit the answer is a 429 that says why, given
before the form is checked, so it is the same for a registered and an unregistered address,
creates no account and starts no session. Another network is not held back, and the count
starts again each hour.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts import throttling
from accounts.models import User
from tests.accounts.test_sessions import PASSWORD

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many sign-up attempts from your network"


def _without_tokens(page: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def _signup(client, email: str, address: str = "203.0.113.7", password: str = PASSWORD):
    data = {"email": email, "full_name": "Sam Example", "profession": "nurse",
            "password1": password, "password2": password}
    return client.post(reverse("accounts:signup"), data, REMOTE_ADDR=address)


def test_past_the_limit_a_429_that_reveals_nothing_and_creates_nothing(client, settings):
    settings.ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY = 3
    User.objects.create_user("taken@example.org", "a-long-passphrase", full_name="T")
    assert _signup(client, "taken@example.org").status_code == HTTPStatus.BAD_REQUEST  # counted too
    assert _signup(client, "first@example.org").status_code == HTTPStatus.FOUND
    client.logout()
    assert _signup(client, "bad@example.org", password="x").status_code == HTTPStatus.BAD_REQUEST

    registered, unregistered = _signup(client, "taken@example.org"), _signup(client, "new@example.org")

    for refused in (registered, unregistered):
        assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
        assert TOO_MANY in refused.content.decode()
        assert not refused.context["form"].is_bound  # no validation ran: nothing about the address
    # The two pages differ only in their CSRF tokens.
    assert _without_tokens(registered.content) == _without_tokens(unregistered.content)
    assert not User.objects.filter(email="new@example.org").exists()
    assert "_auth_user_id" not in client.session


def test_another_network_is_not_held_back(client, settings):
    settings.ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY = 1
    assert _signup(client, "one@example.org").status_code == HTTPStatus.FOUND
    client.logout()
    assert _signup(client, "two@example.org").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert _signup(client, "two@example.org", address="192.0.2.44").status_code == HTTPStatus.FOUND


def test_the_count_starts_again_each_hour(client, settings, monkeypatch):
    settings.ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY = 1
    start = 1_800_000_000.0  # on an hour boundary
    monkeypatch.setattr(throttling, "_now", lambda: start + 10)
    assert _signup(client, "one@example.org").status_code == HTTPStatus.FOUND
    client.logout()
    assert _signup(client, "two@example.org").status_code == HTTPStatus.TOO_MANY_REQUESTS
    monkeypatch.setattr(throttling, "_now", lambda: start + 3600 + 10)
    assert _signup(client, "two@example.org").status_code == HTTPStatus.FOUND


def test_the_limit_is_per_client_behind_the_trusted_proxy(client, settings):
    """Behind nginx every request comes from the proxy: the limit must count the client."""
    settings.ACCOUNTS_SIGNUP_PER_CLIENT_HOURLY = 1
    settings.TRUSTED_PROXY_COUNT = 1

    def via_proxy(email, client_address):
        return client.post(
            reverse("accounts:signup"),
            {"email": email, "full_name": "P", "profession": "nurse",
             "password1": PASSWORD, "password2": PASSWORD},
            REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_address,
        )

    assert via_proxy("a@example.org", "198.51.100.1").status_code == HTTPStatus.FOUND
    client.logout()
    assert via_proxy("b@example.org", "198.51.100.2").status_code == HTTPStatus.FOUND
    client.logout()
    assert via_proxy("c@example.org", "198.51.100.2").status_code == HTTPStatus.TOO_MANY_REQUESTS
