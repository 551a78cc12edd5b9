"""Turn a lost database connection into a clear 503, not a 500; refuse NUL characters in parameters;
send the Content-Security-Policy header without building it on every response.

When PostgreSQL restarts or is briefly unreachable, requests fail with
OperationalError/InterfaceError. The client gets a 503 with Retry-After (JSON
for the API, a short page otherwise); Django's CONN_HEALTH_CHECKS reconnect
on the next request, so the service recovers without a restart.
"""

import logging
from http import HTTPStatus

from csp import middleware as csp_middleware
from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.utils import build_policy as csp_build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse

from config import errors

logger = logging.getLogger(__name__)

_PAGE = (
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Temporarily unavailable</title></head>"
    "<body><main><h1>Temporarily unavailable</h1><p>The service cannot reach its database. "
    "Nothing you submitted was half-saved: please try again in a moment.</p></main></body></html>"
)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable: %s", exception)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"error": {"code": "service_unavailable", "message": "The database is unreachable; retry shortly."}},
                status=503,
            )
        else:
            response = HttpResponse(_PAGE, status=503)
        response["Retry-After"] = "5"
        return response


class NulCharacterMiddleware:
    """A 400 for a NUL character in the query string or a form body, before any view reads it.

    No parameter or form field of ours can hold one, and PostgreSQL refuses it
    in any text value: a view that passed such a parameter to a query got a
    DataError, so a 500 (tests/security/test_junk_input.py found the LTI log-in
    and the interaction search). Django's form fields and DRF's serializers
    refuse it too, but only where a form or serializer reads the value. A
    query string is checked as a substring test (a NUL can only arrive
    percent-encoded); a form body is read as CSRF checking reads it anyway.
    """

    MESSAGE = "The request holds a NUL character (%00), which no parameter or field may contain."
    FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "%00" in request.META.get("QUERY_STRING", "") or (
            request.method == "POST" and request.content_type in self.FORMS and self._nul_in(request.POST)
        ):
            return errors.error_response(request, 400, "invalid", self.MESSAGE)
        return self.get_response(request)

    @staticmethod
    def _nul_in(form) -> bool:
        return any("\x00" in key or any("\x00" in value for value in values) for key, values in form.lists())


# What a view or decorator sets on a response to change its policy (csp.decorators).
_CSP_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_csp_built: dict[bool, str] = {}


@receiver(setting_changed)
def _csp_settings_changed(*, setting, **kwargs):
    if setting in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY"):
        _csp_built.clear()


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware, with the site's policy built once instead of on every response.

    django-csp turns the settings into the header on every response, for the enforced and the
    report-only policy, through `dataclasses.asdict`: in process, 40 % of what the whole
    middleware stack costs the bench's floor page (cProfile, session 21). The header depends only
    on the settings unless a view changed the policy for its response (`csp_update`,
    `csp_replace`, `csp_exempt`, `csp_config`: attributes on the response, as the LTI views set
    them) or the page used a nonce; those responses still go through django-csp's own code. Every
    other one gets the string built the first time, until a CSP setting changes.
    tests/security/test_csp_cache.py checks the headers against django-csp's middleware.
    """

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in (HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.NOT_FOUND) and settings.DEBUG:
            return response
        for report_only, header, exempt, setting in (
            (False, CSP_HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (True, CSP_HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            policy = _csp_built.get(report_only)
            if policy is None:
                policy = _csp_built[report_only] = csp_build_policy(report_only=report_only)
            if not policy or header in response or getattr(response, exempt, False) is not False:
                continue
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            if not request.path_info.startswith(tuple(prefixes)):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written raises.
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
