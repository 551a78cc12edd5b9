"""Endpoints of the connected SCORM package (issue #7, section 6).

The package's launch page, running inside the LMS, calls:

1. `session/?package=<package token>&learner=<id>&name=<name>` (JSON): mints
   a learner token and returns the launch and status URLs. No database write.
2. `launch/<learner token>/` (opened by the learner in a new window): signs
   the LMS learner in to their own account here and opens the hosted course.
3. `status/<learner token>/` (JSON, polled): what to report to the LMS.

The JSON endpoints are called cross-origin from the LMS's page, carry no
cookies and authenticate by token alone, so they allow any origin and are
CSRF-exempt by nature (GET only). They never return answers, keys or credit
records: only the SCORM statuses and the best post-test score.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.backends import BACKEND_PATH
from curriculum.models import Course
from lms.exports import builders, rules
from lms.models import ExternalLearner, Organisation
from lms.scorm import package, selectors, services, tokens
from lms.scorm.status import Progress, scorm_status
from lms.services import Conflict

MAX_ID_LENGTH = 190  # ExternalLearner.external_id holds 200, less our "scorm:" prefix


def _json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-store"
    return response


def _error(code: str, message: str, status: int) -> JsonResponse:
    return _json({"error": {"code": code, "message": message}}, status=status)


@require_GET
@never_cache
def scorm_session(request):
    try:
        package = tokens.package_claim(request.GET.get("package", ""))
    except signing.BadSignature:
        return _error("bad_package", "This SCORM package is not one of ours; export it again.", 403)
    learner_id = request.GET.get("learner", "").strip()
    if not learner_id or len(learner_id) > MAX_ID_LENGTH:
        return _error("bad_learner", "The LMS gave no usable learner id (cmi.core.student_id).", 400)
    if not Organisation.objects.filter(pk=package.organisation_id, is_active=True).exists():
        return _error("package_disabled", "This package's organisation is switched off.", 403)
    name = request.GET.get("name", "").strip()[:200]
    token = tokens.learner_token(tokens.LearnerClaim(package=package, learner_id=learner_id, learner_name=name))
    return _json({
        "launch_url": request.build_absolute_uri(reverse("lms_scorm:launch", args=[token])),
        "status_url": request.build_absolute_uri(reverse("lms_scorm:status", args=[token])),
        "poll_seconds": getattr(settings, "LMS_SCORM_POLL_SECONDS", 15),
    })


@require_GET
def scorm_launch(request, token: str):
    try:
        claim = tokens.learner_claim(token)
        user = services.scorm_learner_launch(claim=claim)
    except signing.BadSignature:
        return HttpResponseBadRequest("This course link has expired: open the course again from your LMS.")
    except Organisation.DoesNotExist:
        return HttpResponseBadRequest("This course package is no longer active.")
    except (ValidationError, Conflict):  # the course was unpublished, or an account clash
        return HttpResponseBadRequest("This course cannot be opened from your LMS at the moment.")
    if request.user != user:
        login(request, user, backend=BACKEND_PATH)
    return redirect("curriculum:course_detail", course_slug=claim.package.course_slug)


@require_GET
@never_cache
def scorm_status_view(request, token: str):
    try:
        claim = tokens.learner_claim(token)
    except signing.BadSignature:
        return _error("expired", "This session has expired: open the course again from your LMS.", 403)
    course = Course.objects.filter(slug=claim.package.course_slug).first()
    identity = (
        ExternalLearner.objects.select_related("user")
        .filter(organisation_id=claim.package.organisation_id, external_id=f"scorm:{claim.learner_id}")
        .first()
    )
    if course is None:
        return _error("no_course", "The course of this package no longer exists.", 404)
    if identity is None:  # not launched yet
        progress = Progress(0, 0, 0, None, False, True)
    else:
        progress = selectors.scorm_progress_get(learner=identity.user, course=course)
    return _json({"started": identity is not None, **scorm_status(progress).as_dict()})


@require_GET
def scorm_export(request, course_slug: str):
    """Direct download of a package (issue #7, section 8): `?version=1.2|2004&mode=connected|self-contained`.

    A connected package built here names this site's origin and the default
    SCORM organisation, as `export_scorm` does without options. A
    self-contained one carries the knowledge-check keys, so it needs the
    answer-key export permission (lms/exports/rules.py), not staff status alone.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    version = request.GET.get("version", "1.2")
    mode = request.GET.get("mode", "connected")
    if not rules.may_export(request.user, "scorm", {"mode": mode}):
        raise PermissionDenied("Only staff may export SCORM packages; self-contained ones (with answer keys) "
                               "need the answer-key export permission.")
    if version not in package.VERSIONS or mode not in package.MODES:
        raise Http404("version must be 1.2 or 2004; mode connected or self-contained.")
    try:
        export = builders.scorm_export(
            course=course_slug, version=version, mode=mode, server_url=request.build_absolute_uri("/")
        )
    except builders.ExportError as exc:
        raise Http404(str(exc)) from exc
    buffer = io.BytesIO()
    export.write(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
