"""/api/: versions, the OpenAPI schema and its interactive docs (served without a CDN)."""

from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


@csrf_exempt  # it changes nothing; without this a POST gets the CSRF middleware's HTML 403
def not_found(request, *args, **kwargs):
    """Unknown /api/ URLs answer in the API's error shape, not with an HTML page."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": "No API endpoint at this URL; see /api/docs/.", "fields": {}}},
        status=404,
    )


urlpatterns = [
    path("v1/", include("lms.api.v1.urls", namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the strict CSP
    # (no inline script) holds on the docs page too.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="lms/swagger_ui.html"),
        name="api-docs",
    ),
    re_path(r"^[\s\S]*$", not_found),  # [\s\S], not ".": a newline (%0A) in the path too
]
