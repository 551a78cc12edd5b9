"""Lock-outs and throttles count per client address, read through the proxies in front.

Without a proxy a client-sent X-Forwarded-For must not move its count; behind
nginx (deploy/nginx/ce.conf, DJANGO_TRUSTED_PROXY_COUNT=1) every request comes
from the proxy's address, and the client's is the right-most entry the proxy
appended. See accounts/throttling.py: client_ip.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.throttling import client_ip

PASSWORD = "the-real-passphrase"  # noqa: S105 (a test account's)  # pragma: allowlist secret


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "198.51.100.1", "203.0.113.7"),  # no proxy: the header is the client's own words
        (1, "127.0.0.1", "203.0.113.7", "203.0.113.7"),
        (1, "127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # a spoofed entry, left of nginx's
        (2, "10.0.0.2", "198.51.100.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),  # load balancer, then nginx
        (1, "127.0.0.1", "2001:db8::7", "2001:db8::7"),
        (1, "127.0.0.1", "", "127.0.0.1"),  # no header: the proxy is set up otherwise; never a client's value
        (2, "10.0.0.2", "203.0.113.7", "10.0.0.2"),  # fewer entries than proxies
        (1, "127.0.0.1", "198.51.100.1, not-an-address", "127.0.0.1"),
    ],
)
def test_client_ip_reads_only_what_the_trusted_proxies_wrote(settings, proxies, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def _log_in(client, address: str, password: str, *, forwarded: str = "", remote: str = "127.0.0.1"):
    extra = {"REMOTE_ADDR": remote}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("accounts:login"), {"username": address, "password": password}, **extra)


@pytest.mark.django_db
def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_lock_out(client, settings):
    User.objects.create_user("target@example.org", PASSWORD, full_name="T")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = _log_in(client, "target@example.org", "wrong", forwarded=f"198.51.100.{n}", remote="203.0.113.7")
        assert failed.status_code == HTTPStatus.BAD_REQUEST
    locked = _log_in(client, "target@example.org", "wrong", forwarded="198.51.100.99", remote="203.0.113.7")
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS


@pytest.mark.django_db
def test_behind_the_proxy_a_lock_out_holds_the_attacker_not_the_clinician(client, settings):
    """All requests arrive from nginx (127.0.0.1): counted by REMOTE_ADDR, one attacker's failures
    would lock the account for everyone."""
    settings.TRUSTED_PROXY_COUNT = 1
    User.objects.create_user("target@example.org", PASSWORD, full_name="T")
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The attacker varies what it sends as X-Forwarded-For; nginx appends its real address.
        _log_in(client, "target@example.org", "wrong", forwarded=f"198.51.100.{n}, 203.0.113.7")
    locked = _log_in(client, "target@example.org", PASSWORD, forwarded="198.51.100.200, 203.0.113.7")
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS

    clinician = _log_in(client, "target@example.org", PASSWORD, forwarded="192.0.2.44")
    assert clinician.status_code == HTTPStatus.FOUND
    assert client.session["_auth_user_id"] == str(User.objects.get(email="target@example.org").pk)


def _verify(client: APIClient, *, forwarded: str, remote: str = "127.0.0.1") -> int:
    path = reverse("v1:certificate-verify", args=["A" * 22])
    return client.get(path, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded).status_code


@pytest.mark.django_db
@pytest.mark.parametrize("proxies", [0, 1])
def test_the_verification_throttle_counts_the_client_not_what_it_writes(settings, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.LMS_API_VERIFY_RATE = "2/min"
    client = APIClient()

    def verify(forged: str, address: str) -> int:
        # Behind nginx, the client's address is appended to what it sent; without a proxy,
        # it is the connection's own.
        if proxies:
            return _verify(client, forwarded=f"{forged}, {address}")
        return _verify(client, forwarded=forged, remote=address)

    statuses = [verify(f"198.51.100.{n}", "203.0.113.7") for n in range(3)]
    assert statuses == [HTTPStatus.NOT_FOUND, HTTPStatus.NOT_FOUND, HTTPStatus.TOO_MANY_REQUESTS]
    # Another clinician, at another address, still has the whole budget.
    assert verify("198.51.100.9", "192.0.2.44") == HTTPStatus.NOT_FOUND
