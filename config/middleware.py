"""Turn a lost database connection into a clear 503, not a 500.

When PostgreSQL restarts or is briefly unreachable, requests fail with
OperationalError/InterfaceError. The client gets a 503 with Retry-After (JSON
for the API, a short page otherwise); Django's CONN_HEALTH_CHECKS reconnect
on the next request, so the service recovers without a restart.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

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
