"""Iframe placements for sessions started by an LTI launch (#7).

`launch()` records the platform in the session (SESSION_KEY). For such a
session, and only for it:

- `LtiFrameMiddleware` lets that platform's registered origins frame every
  response (CSP `frame-ancestors <origins>`, no X-Frame-Options) except the
  admin, which keeps DENY. The origins are read from the registration on every
  request (one query), so removing one, or switching the platform off, takes
  effect at once. Anonymous pages and ordinary sessions keep DENY / 'none'.
- `LtiCookieMiddleware` makes the session, CSRF and messages cookies
  `SameSite=None; Secure; Partitioned` (lms/lti/framing.py says why; without
  the messages cookie, "Lesson marked complete" would vanish), and pylti1p3's OIDC
  state cookies (`lti1p3-*`) too, for every session: the launch that sets the
  marker is itself a cross-site form POST inside the iframe.

Placement in MIDDLEWARE matters: LtiCookieMiddleware sits above the session
and CSRF middleware, so it sees the cookies they set; LtiFrameMiddleware sits
below the X-Frame-Options and CSP middleware, so the attributes it sets on a
response reach them (response phases run bottom-up).
"""

from __future__ import annotations

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.urls import reverse

from lms.lti import selectors
from lms.lti.framing import cross_site_cookies_possible, frame_ancestors, partition_cookie

SESSION_KEY = "lti_platform_id"
STATE_COOKIE_PREFIX = "lti1p3-"


def framed_response(response, origins: list[str]):
    """`response`, frameable by `origins` only (`'none'` if empty) and without X-Frame-Options."""
    response = csp_replace({"frame-ancestors": frame_ancestors(origins)})(lambda: response)()
    response.xframe_options_exempt = True
    return response


def _remember_launch_on_flush(request) -> None:
    """A logout inside the iframe flushes the session; the cookie middleware must
    still delete the cookie as the partitioned one it is. So a flush first notes
    whether the session was launched. Reading the session up front instead would
    cost a query on requests that never touch it (token-authenticated endpoints)."""
    request.lti_launched = False
    session = request.session
    flush = session.flush

    def flush_remembering_launch() -> None:
        request.lti_launched = SESSION_KEY in session
        flush()

    session.flush = flush_remembering_launch


def _launched_platform_id(request) -> int | None:
    """The platform that launched this session, as the view left it (a launch sets
    it, a logout ends it). Only a session the request already loaded is read: a
    response that never touched the session (a token-authenticated endpoint) is
    no page for the frame, and reading it would cost a query."""
    session = getattr(request, "session", None)
    if session is None or not session.accessed:
        return None
    return session.get(SESSION_KEY)


class LtiFrameMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _remember_launch_on_flush(request)
        response = self.get_response(request)
        platform_id = _launched_platform_id(request)
        if platform_id is None or request.path.startswith(reverse("admin:index")):
            return response
        if getattr(response, "_csp_replace", None) and "frame-ancestors" in response._csp_replace:
            return response  # an LTI endpoint already chose (the platform of this very request)
        origins = selectors.platform_frame_origins_get(platform_id=platform_id)
        if frame_ancestors(origins) == ["'none'"]:
            return response  # platform switched off or no origin left: DENY / 'none' as for anyone
        return framed_response(response, origins)


class LtiCookieMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.cookies or not cross_site_cookies_possible(request):
            return response
        for name in list(response.cookies):
            if name.startswith(STATE_COOKIE_PREFIX):
                partition_cookie(response, name)
        if getattr(request, "lti_launched", False) or _launched_platform_id(request) is not None:
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME, CookieStorage.cookie_name):
                partition_cookie(response, name)
        return response
