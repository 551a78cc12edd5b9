"""The CSP header built once (config.middleware.CSPMiddleware) is the header django-csp sends.

Each case runs the same view through django-csp's own middleware and through ours, on fresh
requests, and compares every CSP header; then that the built header is reused and rebuilt when a
CSP setting changes.
"""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.decorators import csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.http import HttpResponse, HttpResponseNotFound
from django.test import RequestFactory

from config import middleware as config_middleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": "/csp-reports/"}}


def plain(request):
    return HttpResponse("page")


def not_found(request):
    return HttpResponseNotFound("missing")


def with_nonce(request):
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")


@csp_update({"form-action": ["https://lms.example.edu"]})
def updated(request):
    return HttpResponse("page")


@csp_replace({"frame-ancestors": ["https://lms.example.edu"]})
def replaced(request):
    return HttpResponse("page")


@csp_exempt()
def exempt(request):
    return HttpResponse("page")


def own_header(request):
    response = HttpResponse("page")
    response[HEADER] = "default-src 'none'"
    return response


def _headers(middleware_class, view, path="/page/"):
    response = middleware_class(view)(RequestFactory().get(path))
    return {name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}


@pytest.mark.parametrize("report_only", [False, True], ids=["enforced", "enforced-and-report-only"])
@pytest.mark.parametrize(
    "view", [plain, not_found, updated, replaced, exempt, own_header], ids=lambda view: view.__name__
)
def test_headers_are_django_csps(settings, view, report_only):
    if report_only:
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    ours = _headers(config_middleware.CSPMiddleware, view)
    assert ours == _headers(DjangoCSPMiddleware, view)
    # And again, now that the header is built.
    assert _headers(config_middleware.CSPMiddleware, view) == ours
    assert (ours[HEADER_REPORT_ONLY] is not None) == report_only  # csp_exempt() exempts the enforced one


def test_the_sites_policy_is_sent_and_views_still_change_it():
    sent = _headers(config_middleware.CSPMiddleware, plain)[HEADER]
    assert "script-src 'self'" in sent and "frame-ancestors 'none'" in sent
    assert "form-action 'self' https://lms.example.edu" in _headers(config_middleware.CSPMiddleware, updated)[HEADER]
    assert "frame-ancestors https://lms.example.edu" in _headers(config_middleware.CSPMiddleware, replaced)[HEADER]
    assert _headers(config_middleware.CSPMiddleware, exempt)[HEADER] is None
    assert _headers(config_middleware.CSPMiddleware, own_header)[HEADER] == "default-src 'none'"


def test_a_page_that_uses_a_nonce_gets_its_own_in_the_header(settings):
    """The site's policy names no nonce; one that does puts each page's own in its header."""
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", NONCE]}}
    first, second = (_headers(config_middleware.CSPMiddleware, with_nonce)[HEADER] for _ in range(2))
    assert "'nonce-" in first and "'nonce-" in second and first != second


def test_a_nonce_asked_for_after_the_header_is_written_raises():
    request = RequestFactory().get("/page/")
    config_middleware.CSPMiddleware(plain)(request)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_excluded_prefixes_and_debug_error_pages_get_no_header(settings):
    settings.CONTENT_SECURITY_POLICY = {**settings.CONTENT_SECURITY_POLICY, "EXCLUDE_URL_PREFIXES": ["/skip/"]}
    assert _headers(config_middleware.CSPMiddleware, plain, "/skip/this/")[HEADER] is None
    assert _headers(config_middleware.CSPMiddleware, plain, "/page/")[HEADER] is not None
    settings.DEBUG = True
    assert _headers(config_middleware.CSPMiddleware, not_found)[HEADER] is None


def test_the_header_is_built_once_and_again_when_a_setting_changes(settings, monkeypatch):
    built = []
    real = config_middleware.csp_build_policy

    def counting(**kwargs):
        built.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(config_middleware, "csp_build_policy", counting)
    config_middleware._csp_built.clear()
    for _ in range(5):
        _headers(config_middleware.CSPMiddleware, plain)
    assert len(built) == 2  # the enforced and the report-only policy, once each

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert _headers(config_middleware.CSPMiddleware, plain)[HEADER] == "default-src 'none'"
    assert len(built) == 4
