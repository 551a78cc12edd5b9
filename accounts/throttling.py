"""Who a failed log-in or a throttled request is counted against: the name and the client address."""

from __future__ import annotations

import ipaddress

from django.conf import settings

# axes's AccessAttempt.username column.
AXES_USERNAME_LENGTH = 255


def axes_username(request, credentials: dict | None = None) -> str | None:
    """What was typed as the e-mail address, as axes reads it by default, cut to its column.

    axes stores it uncut, so a longer one failed the insert (a 500 on
    PostgreSQL, tests/security/test_junk_input.py). No account's address is
    that long (254 at most), so failures under a cut name lock out no one.
    """
    if credentials:
        value = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        value = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    return value[:AXES_USERNAME_LENGTH] if isinstance(value, str) else value


# The client's address, with or without proxies in front (DJANGO_TRUSTED_PROXY_COUNT).
#
# Log-in lock-outs (django-axes, `AXES_CLIENT_IP_CALLABLE`) and the public
# verification API's throttle count per client address. Behind nginx
# (deploy/nginx/ce.conf) every request comes from the proxy's address, so
# counting REMOTE_ADDR would count all clients as one: anyone could lock a
# clinician out of their account from anywhere. Each proxy appends the address
# it received the request from to X-Forwarded-For, so with n trusted proxies
# the client's address is the n-th entry from the right; entries left of it
# came from the client and are never read. With no proxy (the default) the
# header is ignored: a client could write anything there.
def client_ip(request) -> str:
    """REMOTE_ADDR, or behind `TRUSTED_PROXY_COUNT` proxies the address the outermost one saw.

    Falls back to REMOTE_ADDR when the header has fewer entries than there are
    proxies, or the entry is not an IP address (a proxy set up differently
    from the setting): never a value a client chose.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    entries = [entry for entry in entries if entry]
    if len(entries) < count:
        return remote
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return remote
