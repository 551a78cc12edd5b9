"""Turn a lost database connection into a clear 503, not a 500; refuse NUL characters in parameters.

When PostgreSQL restarts or is briefly unreachable, requests fail with
OperationalError/InterfaceError. The client gets a 503 with Retry-After (JSON
for the API, a short page otherwise); Django's CONN_HEALTH_CHECKS reconnect
on the next request, so the service recovers without a restart.
"""

import logging

from django.db import InterfaceError, OperationalError
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
