"""Error pages that say what went wrong: 400, 403, 404 and 500, as a page or, under /api/, as JSON.

Django's own pages drop the reason: its 403 page never shows the message a
view gave PermissionDenied ("needs the Can export credit reports
permission"), and its 400 page says nothing of a body over the upload limit.
Under /api/ the body is the API's error shape (`lms/api/v1/base.py`,
ErrorSerializer), for the errors Django raises before or outside a DRF view.
The 500 page is standalone: it must render when templates or the database
are what failed.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

TITLES = {400: "Bad request", 403: "Not allowed", 404: "Page not found"}


def json_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def error_response(request, status: int, code: str, reason: str) -> HttpResponse:
    """The API's error JSON under /api/, else the site's error page (templates/error.html)."""
    if request.path.startswith("/api/"):
        return json_error(code, reason, status)
    context = {"title": TITLES[status], "reason": reason}
    return HttpResponse(loader.render_to_string("error.html", context, request), status=status)


def _reason(exception) -> str:
    """The message a view gave its exception, or "" for none (or Django's internal resolver detail)."""
    message = exception.args[0] if exception is not None and exception.args else ""
    return message if isinstance(message, str) else ""


def bad_request_reason(exception) -> tuple[str, str]:
    """(code, message) for a 400 Django raised while reading the request."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20
        return "too_large", f"The request body is larger than the {limit:g} MB this site accepts."
    if isinstance(exception, TooManyFieldsSent):
        return "too_many_fields", f"The form sent more than the {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields this site accepts."
    if isinstance(exception, TooManyFilesSent):
        return "too_many_files", f"The form sent more than the {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files this site accepts."
    return "bad_request", "The request could not be read. Check the address and what was sent, then try again."


@requires_csrf_token
def bad_request(request, exception=None):
    return error_response(request, 400, *bad_request_reason(exception))


@requires_csrf_token
def permission_denied(request, exception=None):
    return error_response(
        request, 403, "permission_denied", _reason(exception) or "You do not have permission to see this page."
    )


@requires_csrf_token
def page_not_found(request, exception=None):
    # A resolver miss carries a dict, not a sentence: only a view's own message is shown.
    return error_response(request, 404, "not_found", _reason(exception) or "There is no page at this address.")


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error("server_error", "Something went wrong on our side; it has been logged. Try again later.", 500)
    return HttpResponse(loader.render_to_string("500.html"), status=500)
