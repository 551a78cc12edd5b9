"""Who a failed log-in or a throttled request is counted against: the name and the client address."""

from __future__ import annotations

import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import caches

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


_now = time.time  # the clock the windows are cut from (tests move it)


def window_count(cache, key: str, window_seconds: int) -> int:
    """This event's number in `key`'s fixed window: one `incr` a call (an `add` opens the window).

    incr() is atomic in LocMem, Redis and memcached, so concurrent events are all counted;
    only the window's first event (incr finds no counter) also calls add(), and if another
    event added the counter first, counts on it. Used by the API throttles
    (lms/api/v1/base.py: FixedWindowThrottle) and `over_limit`.
    """
    try:
        return cache.incr(key)
    except ValueError:  # no counter yet in this window
        if cache.add(key, 1, timeout=window_seconds + 1):
            return 1
    try:
        return cache.incr(key)
    except ValueError:  # added and expired at once: only with a clock jump; count this one alone
        cache.add(key, 1, timeout=window_seconds + 1)
        return 1


def over_limit(name: str, subject: str, limit: int, window_seconds: int) -> bool:
    """Count one more event of `name` for `subject` in the current fixed window; True once it
    is past `limit`.

    Counted in the API throttles' cache (settings.LMS_THROTTLE_CACHE_ALIAS: the shared Redis
    when there is one, so every app server counts one limit). The subject is hashed into the
    key: an e-mail address is not kept in the cache.
    """
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    key = f"limit:{name}:{digest}:{int(_now() // window_seconds)}"
    return window_count(caches[settings.LMS_THROTTLE_CACHE_ALIAS], key, window_seconds) > limit
