"""Staff export pages: start an export, watch its job, download the file.

`/staff/exports/` lists the exports the signed-in staff member may start
(rules.py) and their recent jobs. Starting one queues a job and opens its
page, where a <progress> bar follows the job through a small JSON status
endpoint polled by static/js/export-job.js (no inline script: the CSP stays
strict); the page also works without JavaScript (a refresh link). The file
is served by `export_job_download` after the same check as the page, never
from a public URL, until it expires (LMS_EXPORT_RETENTION_HOURS; then 410). Non-staff get a 404 (the pages' existence is no secret,
but nothing here is for them); staff lacking the permission get a 403.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from lms.exports import forms, rules, selectors, services
from lms.models import ExportJob


def _staff(request):
    """None for staff; else the response to give (log-in page, or 404)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not request.user.is_staff:
        raise Http404("No such page.")
    return None


def _job_for(request, pk: int) -> ExportJob:
    try:
        job = selectors.export_job_get(pk=pk)
    except ExportJob.DoesNotExist:
        raise Http404("No such export.") from None
    if not rules.may_read(request.user, job):
        raise PermissionDenied(
            "Only the person who started this export, or staff allowed to run it, may see it."
        )
    return job


def status_payload(job: ExportJob) -> dict:
    """The status JSON: the contract export-job.js and tests/lms/test_exports.py rely on."""
    total = job.progress_total
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "done": job.progress_done,
        "total": total,
        "percent": (100 * job.progress_done // total) if total else (100 if job.state == "done" else None),
        "message": job.message,
        "error": job.error,
        "filename": job.filename,
        "size": job.size,
        "download_url": reverse("lms_exports:job_download", args=[job.pk]) if job.state == "done" else None,
        "finished": job.state in (ExportJob.State.DONE, ExportJob.State.FAILED, ExportJob.State.EXPIRED),
    }


@require_GET
def export_index(request):
    if (refusal := _staff(request)) is not None:
        return refusal
    user = request.user
    may_keys = user.has_perm(rules.ANSWER_KEYS)
    available = []
    for form_class in forms.FORMS.values():
        if form_class.kind == "scorm":
            form = form_class()
            if not may_keys:  # a connected package carries no key: any staff member may build one
                form.fields["mode"].choices = [c for c in form.fields["mode"].choices if c[0] == "connected"]
            available.append(form)
        elif rules.may_export(user, form_class.kind, {}):
            available.append(form_class())
    return render(
        request,
        "lms/export_index.html",
        {
            "forms": available,
            "jobs": selectors.export_job_list(user=user),
            "may_keys": may_keys,
        },
    )


@require_POST
def export_start(request):
    if (refusal := _staff(request)) is not None:
        return refusal
    form_class = forms.FORMS.get(request.POST.get("kind", ""))
    if form_class is None:
        raise Http404("No such export.")
    form = form_class(request.POST)
    if not form.is_valid():
        return render(
            request,
            "lms/export_index.html",
            {
                "forms": [form],
                "jobs": selectors.export_job_list(user=request.user),
                "may_keys": request.user.has_perm(rules.ANSWER_KEYS),
            },
            status=400,
        )
    parameters = form.parameters()
    if form_class.kind == "scorm" and parameters["mode"] == "connected":
        # The package names this site: the origin the staff member is using.
        parameters["server_url"] = request.build_absolute_uri("/").rstrip("/")
    if not rules.may_export(request.user, form_class.kind, parameters):
        raise PermissionDenied(
            "This export carries answer keys or learners' records: it needs a permission "
            "staff status alone does not give. Ask an administrator."
        )
    job = services.export_job_request(kind=form_class.kind, parameters=parameters, requested_by=request.user)
    return redirect("lms_exports:job_detail", pk=job.pk)


@require_GET
def export_job_detail(request, pk: int):
    if (refusal := _staff(request)) is not None:
        return refusal
    job = _job_for(request, pk)
    return render(request, "lms/exportjob_detail.html", {"job": job, "status": status_payload(job)})


@require_GET
@never_cache
def export_job_status(request, pk: int):
    """Three queries whatever the job: session, user, job (the requester needs no permission query)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Sign in."}, status=401)
    if not request.user.is_staff:
        raise Http404("No such export.")
    return JsonResponse(status_payload(_job_for(request, pk)))


@require_GET
@never_cache
def export_job_download(request, pk: int):
    if (refusal := _staff(request)) is not None:
        return refusal
    job = _job_for(request, pk)
    if job.state == ExportJob.State.EXPIRED:
        return _gone(request, job)
    if job.state != ExportJob.State.DONE:
        raise Http404("This export has no file (yet).")
    content_type = "text/csv; charset=utf-8" if job.filename.endswith(".csv") else "application/zip"
    try:
        stored = job.file.open("rb")
    except FileNotFoundError:  # expired by a worker since the row was read, or removed by hand
        return _gone(request, job)
    response = FileResponse(stored, as_attachment=True, filename=job.filename, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


def _gone(request, job: ExportJob):
    """410: the job exists and may be read, but its file is no longer kept."""
    return render(
        request,
        "lms/export_gone.html",
        {"job": job, "hours": settings.LMS_EXPORT_RETENTION_HOURS},
        status=410,
    )
