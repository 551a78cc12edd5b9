"""The staff download of a course's QTI package (issue #7, section 8).

The package holds the answer key and rationales, so only staff may fetch it:
an authenticated learner gets 403, an anonymous visitor the login page. The
export takes well under a second for the bundled course, so it is built in
the request.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from curriculum.models import Course
from lms.qti import package, selectors


@require_GET
def qti_export(request, course_slug: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may export the question bank: it contains the answer key.")
    version = request.GET.get("version", "2.1")
    if version not in ("2.1", "3.0"):
        raise Http404("QTI version must be 2.1 or 3.0.")
    try:
        bank = selectors.qti_bank_get(course_slug=course_slug)
    except Course.DoesNotExist as exc:
        raise Http404("No such course.") from exc
    built = package.package_build(bank, version=version)
    response = HttpResponse(built.zip_bytes(), content_type="application/zip")
    filename = f"{course_slug}-qti{version.replace('.', '')}.zip"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
