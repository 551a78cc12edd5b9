"""The direct download of a course's QTI package (issue #7, section 8).

The package holds the answer key and rationales, so being staff is not
enough: it needs the `lms.export_answer_keys` permission (lms/exports/rules.py);
a learner or a staff member without it gets 403, an anonymous visitor the
log-in page. The bundled course builds in well under a second, so this view
builds it in the request; `/staff/exports/` runs the same export as a
background job with a progress bar, for larger banks.
"""

import io

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from lms.exports import builders, rules


@require_GET
def qti_export(request, course_slug: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not rules.may_export(request.user, "qti", {}):
        raise PermissionDenied("Exporting the question bank needs the answer-key export permission.")
    version = request.GET.get("version", "2.1")
    if version not in builders.QTI_VERSIONS:
        raise Http404("QTI version must be 2.1 or 3.0.")
    try:
        export = builders.qti_export(course=course_slug, version=version)
    except builders.ExportError as exc:
        raise Http404(str(exc)) from exc
    buffer = io.BytesIO()
    export.write(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
