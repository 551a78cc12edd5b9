"""The password reset form cannot flood an inbox or send mail in bulk (accounts/views.py).

Per e-mail address, past the hourly limit no e-mail goes out and the page is the one a sent
e-mail gets, so the limit reveals nothing about accounts; per client address, past its limit
the form answers 429 and says why.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse

from accounts import throttling
from accounts.models import User

pytestmark = pytest.mark.django_db


def _reset(client, email: str, address: str = "203.0.113.7"):
    return client.post(reverse("accounts:password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_past_the_per_address_limit_no_more_mail_and_the_same_page(client, settings):
    settings.ACCOUNTS_RESET_PER_ADDRESS_HOURLY = 3
    User.objects.create_user("clinician@example.org", "a-long-passphrase", full_name="C")
    done = reverse("accounts:password_reset_done")
    # Five requests, in varying case, from five addresses: one inbox, counted once.
    replies = [
        _reset(client, email, address=f"198.51.100.{n}")
        for n, email in enumerate(["clinician@example.org", "Clinician@Example.org"] * 2 + ["CLINICIAN@example.org"])
    ]
    assert [(r.status_code, r.url) for r in replies] == [(HTTPStatus.FOUND, done)] * 5
    assert len(mail.outbox) == 3
    assert all(message.to == ["clinician@example.org"] for message in mail.outbox)


def test_the_limit_answers_alike_for_an_address_with_no_account(client, settings):
    settings.ACCOUNTS_RESET_PER_ADDRESS_HOURLY = 1
    done = reverse("accounts:password_reset_done")
    replies = [_reset(client, "nobody@example.org", address=f"198.51.100.{n}") for n in range(3)]
    assert [(r.status_code, r.url) for r in replies] == [(HTTPStatus.FOUND, done)] * 3
    assert mail.outbox == []


def test_past_the_per_client_limit_the_form_says_so_with_429(client, settings):
    settings.ACCOUNTS_RESET_PER_CLIENT_HOURLY = 2
    for n in range(2):
        assert _reset(client, f"person{n}@example.org").status_code == HTTPStatus.FOUND
    refused = _reset(client, "person9@example.org")
    assert refused.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "Too many password reset requests from your network" in refused.content.decode()
    # Another network is not held back by this one.
    assert _reset(client, "person9@example.org", address="192.0.2.44").status_code == HTTPStatus.FOUND


def test_the_limits_start_again_each_hour(client, settings, monkeypatch):
    settings.ACCOUNTS_RESET_PER_ADDRESS_HOURLY = 1
    User.objects.create_user("clinician@example.org", "a-long-passphrase", full_name="C")
    start = 1_800_000_000.0  # on an hour boundary
    monkeypatch.setattr(throttling, "_now", lambda: start + 10)
    _reset(client, "clinician@example.org")
    _reset(client, "clinician@example.org")
    assert len(mail.outbox) == 1
    monkeypatch.setattr(throttling, "_now", lambda: start + 3600 + 10)
    _reset(client, "clinician@example.org")
    assert len(mail.outbox) == 2


def test_invalid_input_is_still_a_400_and_not_counted(client, settings):
    settings.ACCOUNTS_RESET_PER_CLIENT_HOURLY = 1
    assert _reset(client, "not-an-address").status_code == HTTPStatus.BAD_REQUEST
    assert _reset(client, "person@example.org").status_code == HTTPStatus.FOUND
