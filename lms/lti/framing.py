"""Which origins may frame the tool, and cookies that survive a cross-site iframe.

LMSs (Canvas, Moodle, Blackboard) show a placement in an iframe on their own
origin. Two things stop that by default, and this module owns both answers:

- Framing: every page says `X-Frame-Options: DENY` and `frame-ancestors 'none'`.
  A platform registration lists the origins that may frame the tool
  (`Platform.frame_origins`, validated here: `scheme://host[:port]` only, so
  nothing like `*`, a keyword or a `;` can reach the CSP header).
- Cookies: a cookie set or sent inside a cross-site iframe must be
  `SameSite=None; Secure`, and where the browser blocks third-party cookies
  (Chromium's incognito default, Safari, Firefox's strict mode) it must also be
  `Partitioned` (CHIPS): kept in a jar keyed by the top-level site, so the LMS
  page's iframe gets it back and no other site ever sees it. Python 3.11's
  `http.cookies.Morsel` refuses unknown attributes ("partitioned" arrived in
  3.14) and Django 5.2's `set_cookie` has no argument for it, so
  `partition_cookie` swaps the response's morsel for a subclass that knows it.
  Subclassing keeps the global `Morsel._reserved` untouched (pylti1p3 patches
  it; we do not).

Pure functions: lms/lti/middleware.py applies them per request.
"""

from __future__ import annotations

from http.cookies import Morsel
from urllib.parse import urlsplit

from django.core.exceptions import DisallowedHost, ValidationError
from django.http import HttpRequest, HttpResponseBase
from django.http.request import split_domain_port

# Browsers treat these hosts as secure contexts: a `Secure` cookie is accepted
# from them over plain HTTP (checked in Chromium: tests/browser/test_lti_iframe.py).
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.endswith(".localhost")


def origin_normalize(value: str) -> str:
    """`value` as a CSP source `scheme://host[:port]`, lower-case, or ValidationError.

    https only, except http on a loopback host (development and the tests): an LMS
    page on plain HTTP elsewhere could be rewritten in transit to frame anything.
    """
    text = (value or "").strip()
    if not text or any(ch in text for ch in "*; ,'\"\t\n\r"):
        raise ValidationError(f"{value!r} is not an origin (write it as https://lms.example.edu).")
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise ValidationError(f"{value!r} is not an origin (write it as https://lms.example.edu).")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(f"{value!r} has a path: give the origin only (https://lms.example.edu).")
    if ":" in host:
        host = f"[{host}]"
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValidationError(f"{value!r} is not HTTPS: an LMS framing this course must use https://.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{value!r} has an invalid port.") from exc
    default_port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def frame_origins_validate(value) -> None:
    """Model-field validator: a list of origins, each as `origin_normalize` accepts."""
    if not isinstance(value, list):
        raise ValidationError("Give a list of origins.")
    for item in value:
        if not isinstance(item, str):
            raise ValidationError("Each frame origin is a text origin such as https://lms.example.edu.")
        origin_normalize(item)


def frame_origins_default(*urls: str) -> list[str]:
    """The origins of the platform's issuer and OIDC auth URL, where they are origins we accept.

    Right for Moodle and Blackboard, whose auth URL lives on the LMS itself. Canvas
    Cloud's issuer and auth URL (canvas.instructure.com, sso.canvaslms.com) are not
    where its pages are: its administrator adds the school's own origin.
    """
    found: list[str] = []
    for url in urls:
        try:
            origin = origin_normalize(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
        except ValidationError:
            continue
        if origin not in found:
            found.append(origin)
    return found


def frame_ancestors(origins: list[str] | None) -> list[str]:
    """The CSP `frame-ancestors` sources for these registered origins; `'none'` if
    there are none. Invalid entries (written around the validator, e.g. in a shell)
    are dropped, so `*` or a directive can never reach the header."""
    allowed = []
    for origin in origins or []:
        try:
            allowed.append(origin_normalize(origin))
        except ValidationError:
            continue
    return allowed or ["'none'"]


class PartitionedMorsel(Morsel):
    """A cookie morsel that also serialises the `Partitioned` flag (CHIPS)."""

    _reserved = {**Morsel._reserved, "partitioned": "Partitioned"}
    _flags = Morsel._flags | {"partitioned"}


def cross_site_cookies_possible(request: HttpRequest) -> bool:
    """Whether a `Secure` cookie can be set here: HTTPS, or a loopback host.

    On plain HTTP elsewhere (a development server on a LAN address) the browser
    would drop a Secure cookie outright, breaking even new-window launches, so
    cookies are left as they are and only new-window placements work.
    """
    if request.is_secure():
        return True
    try:
        host, _port = split_domain_port(request.get_host())
    except DisallowedHost:  # CommonMiddleware answers that request with a 400 anyway
        return False
    return _is_loopback(host)


def partition_cookie(response: HttpResponseBase, name: str) -> None:
    """Make the cookie `name` set by this response `SameSite=None; Secure; Partitioned`.

    A deletion (max-age 0) gets the same attributes: a partitioned cookie is only
    replaced or removed by a Set-Cookie that is itself partitioned.
    """
    morsel = response.cookies.get(name)
    if morsel is None:
        return
    partitioned = PartitionedMorsel()
    partitioned.set(morsel.key, morsel.value, morsel.coded_value)
    for attribute, value in morsel.items():
        dict.__setitem__(partitioned, attribute, value)
    partitioned["samesite"] = "None"
    partitioned["secure"] = True
    partitioned["partitioned"] = True
    response.cookies[name] = partitioned
