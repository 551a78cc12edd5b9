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


def _api(request) -> bool:
    return request.path.startswith("/api/")


def json_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def page(request, template: str, status: int, reason: str) -> HttpResponse:
    return HttpResponse(loader.render_to_string(template, {"reason": reason}, request), status=status)


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
    code, message = bad_request_reason(exception)
    if _api(request):
        return json_error(code, message, 400)
    return page(request, "400.html", 400, message)


@requires_csrf_token
def permission_denied(request, exception=None):
    reason = _reason(exception) or "You do not have permission to see this page."
    if _api(request):
        return json_error("permission_denied", reason, 403)
    return page(request, "403.html", 403, reason)


@requires_csrf_token
def page_not_found(request, exception=None):
    # A resolver miss carries a dict, not a sentence: only a view's own message is shown.
    reason = _reason(exception) or "There is no page at this address."
    if _api(request):
        return json_error("not_found", reason, 404)
    return page(request, "404.html", 404, reason)


def server_error(request):
    if _api(request):
        return json_error("server_error", "Something went wrong on our side; it has been logged. Try again later.", 500)
    return HttpResponse(loader.render_to_string("500.html"), status=500)
