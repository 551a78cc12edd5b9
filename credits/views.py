"""Credit pages: the activity record, evaluation, claim, certificates, the
public verification page, the learner's transcript, and staff reports.

Views parse, call one selector or service, and render. A learner asking for
someone else's certificate gets a 404, never a 403, so a certificate's
existence does not leak; so does a non-staff user asking for a report. All
pages work without JavaScript; the QR code is a data: image (the CSP allows
those), the only thing not served from this site.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from credits import exports, pdf, rules, selectors, services
from credits.forms import ClaimForm, EvaluationForm, ReportFilterForm
from credits.models import Activity, Certificate

# secrets.token_urlsafe(16) makes 22 characters of this alphabet; anything else
# is rejected before the database is asked.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")


def _activity_or_404(course_slug: str, *, staff: bool = False) -> Activity:
    try:
        return selectors.activity_get(course_slug=course_slug, include_unpublished=staff)
    except Activity.DoesNotExist:
        raise Http404("No credit activity for this course.") from None


def _verify_url(request, code: str) -> str:
    path = reverse("credits:certificate_verify", args=[code])
    if settings.CREDITS_PUBLIC_URL:
        return settings.CREDITS_PUBLIC_URL + path
    return request.build_absolute_uri(path)


def _status(certificate: Certificate) -> str:
    """'' for a valid certificate, else why it is not."""
    revocation = getattr(certificate, "revocation", None)
    superseded = getattr(certificate, "superseded_by", None)
    if superseded is not None:
        return f"Superseded by a certificate reissued on {superseded.issued_at:%d %B %Y}"
    if revocation is not None:
        return f"Revoked on {revocation.revoked_at:%d %B %Y}"
    return ""


def activity_detail(request, course_slug: str):
    """What a learner must see before starting, and their way to credit."""
    activity = _activity_or_404(course_slug, staff=request.user.is_staff)
    today = timezone.localdate()
    context = {
        "activity": activity,
        "course": activity.course,
        "expired": today > activity.course.expiry_date,
        # The course's notice, unless a designation already says the same.
        "show_notice": activity.course.accreditation_notice
        not in {d.accreditation_statement for d in activity.offered},
        "problems": rules.publish_check(selectors.activity_facts(activity=activity), today=today)
        if request.user.is_staff else [],
    }
    if request.user.is_authenticated:
        context["completion"] = selectors.completion_get(activity=activity, learner=request.user)
        claim = selectors.claim_current_get(activity=activity, learner=request.user)
        context["claim"] = claim
        context["certificate"] = claim.certificates.order_by("-issued_at").first() if claim else None
        # Said before the claim, which refuses such a name: the profile is where to change it.
        context["name_problem"] = "" if claim else services.certificate_name_problem(request.user.full_name)
    return render(request, "credits/activity_detail.html", context)


@login_required
def evaluation_form(request, course_slug: str):
    activity = _activity_or_404(course_slug)
    completion = selectors.completion_get(activity=activity, learner=request.user)
    if completion.evaluation_submitted:
        messages.info(request, "You have already submitted the evaluation. Thank you.")
        return redirect("credits:activity_detail", course_slug)
    objectives = selectors.evaluation_objectives(activity=activity)
    form = EvaluationForm(request.POST or None, objectives=objectives)
    status = HTTPStatus.OK
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.evaluation_submit(
                    learner=request.user, activity=activity, ratings=form.ratings(),
                    practice_change=data["practice_change"], practice_change_detail=data["practice_change_detail"],
                    perceived_bias=data["perceived_bias"], bias_detail=data["bias_detail"],
                    comments=data["comments"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Thank you: your evaluation is recorded.")
                return redirect("credits:activity_detail", course_slug)
        status = HTTPStatus.BAD_REQUEST
    return render(request, "credits/evaluation_form.html",
                  {"activity": activity, "course": activity.course, "form": form}, status=status)


def _claim_initial(user) -> dict:
    parts = (user.full_name or "").split()
    return {
        "full_name": user.full_name, "npi": user.npi, "nabp_eprofile_id": user.nabp_eprofile_id,
        "licence_number": user.licence_number, "licence_state": user.licence_state,
        "given_name": parts[0] if parts else "", "family_name": parts[-1].rstrip(",") if len(parts) > 1 else "",
    }


@login_required
def claim_form(request, course_slug: str):
    activity = _activity_or_404(course_slug)
    claim = selectors.claim_current_get(activity=activity, learner=request.user)
    if claim is not None:
        messages.info(request, "You have already claimed credit for this activity.")
        return redirect("credits:transcript")
    completion = selectors.completion_get(activity=activity, learner=request.user)
    expired = timezone.localdate() > activity.course.expiry_date
    form = ClaimForm(request.POST or None, designations=activity.offered, initial=_claim_initial(request.user))
    context = {"activity": activity, "course": activity.course, "completion": completion, "expired": expired,
               "form": form}
    if request.method != "POST":
        return render(request, "credits/claim_form.html", context)
    if not form.is_valid():
        return render(request, "credits/claim_form.html", context, status=HTTPStatus.BAD_REQUEST)
    try:
        certificate = services.claim_create(
            learner=request.user, activity_id=activity.pk, data=services.ClaimInput(**form.cleaned_data)
        )
    except services.ClaimRefused as exc:
        context["refusal"] = exc.reason
        return render(request, "credits/claim_form.html", context, status=HTTPStatus.CONFLICT)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return render(request, "credits/claim_form.html", context, status=HTTPStatus.BAD_REQUEST)
    messages.success(request, "Your credit is recorded and your certificate is ready.")
    return redirect("credits:certificate_detail", certificate.pk)


def _own_certificate_or_404(request, pk: int) -> Certificate:
    try:
        return selectors.certificate_for_learner_get(pk=pk, learner=request.user)
    except Certificate.DoesNotExist:
        raise Http404("No such certificate.") from None


@login_required
def certificate_detail(request, pk: int):
    certificate = _own_certificate_or_404(request, pk)
    verify_url = _verify_url(request, certificate.code)
    return render(request, "credits/certificate_detail.html", {
        "certificate": certificate, "status": _status(certificate), "verify_url": verify_url,
        "qr": pdf.qr_svg_data_uri(verify_url),
    })


@login_required
def certificate_pdf(request, pk: int):
    """The certificate as a PDF: a valid one as stored (drawn once), a revoked one drawn with its status.

    `Cache-Control: private, no-cache` with an ETag: the browser may keep a
    copy but asks each time, so a revocation is never hidden by its cache.
    """
    try:
        certificate, stored = selectors.certificate_pdf_get(pk=pk, learner=request.user)
    except Certificate.DoesNotExist:
        raise Http404("No such certificate.") from None
    verify_url = _verify_url(request, certificate.code)
    status = _status(certificate)
    if status:
        body, etag = pdf.certificate_pdf(certificate, verify_url=verify_url, status=status), None
    else:
        body, digest = pdf.certificate_pdf_stored(certificate, verify_url=verify_url, stored=stored)
        etag = f'"{digest}"'
    if etag is not None and etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=HTTPStatus.NOT_MODIFIED)
    else:
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.pk}.pdf"'
    response["Cache-Control"] = "private, no-cache"
    if etag is not None:
        response["ETag"] = etag
    return response


def certificate_verify(request, code: str):
    """Public: confirm a certificate by its code, showing only what the certificate shows."""
    certificate = _by_code(code) if CODE_PATTERN.fullmatch(code) else None
    if certificate is None:
        return render(request, "credits/certificate_verify.html", {"certificate": None},
                      status=HTTPStatus.NOT_FOUND)
    return render(request, "credits/certificate_verify.html",
                  {"certificate": certificate, "status": _status(certificate)})


def _by_code(code: str) -> Certificate | None:
    try:
        return selectors.certificate_by_code_get(code=code)
    except Certificate.DoesNotExist:
        return None


@login_required
def transcript(request):
    certificates = selectors.transcript_list(learner=request.user)
    rows = [(c, _status(c)) for c in certificates]
    return render(request, "credits/transcript.html", {"rows": rows})


@login_required
def transcript_csv(request):
    buffer = io.StringIO()
    buffer.write(exports.BOM)  # a clinician opens it in a spreadsheet (exports.Report.for_spreadsheets)
    writer = csv.writer(buffer)
    writer.writerow(["activity", "completed_on", "credit_type", "amount", "uan", "provider", "status",
                     "verification_url"])
    for c in selectors.transcript_list(learner=request.user):
        writer.writerow([exports._cell(c.activity_title), c.completed_on.isoformat(), c.credit_label, c.amount,
                         c.uan, exports._cell(c.provider_name), _status(c) or "Valid",
                         _verify_url(request, c.code)])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="transcript.csv"'
    return response


# --- staff reports ------------------------------------------------------------------


REPORT_PERMISSION = "credits.export_credit_report"


def _report_reader_or_refuse(request) -> None:
    """The credit reports list learners' names, dates of birth and licence numbers: staff with
    `credits.export_credit_report` (as for the background export jobs), else 404 for non-staff
    and 403 for staff without it."""
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404("No such page.")
    if not request.user.has_perm(REPORT_PERMISSION):
        raise PermissionDenied("The credit reports need the “Can export credit reports” permission; ask an administrator.")


def report_index(request):
    """Staff with the report permission: the report filter, CPE Monitor backlog, evaluation
    summaries and outcomes."""
    _report_reader_or_refuse(request)
    form = ReportFilterForm(request.GET or None, initial=ReportFilterForm.initial_range())
    activities = selectors.activity_list_for_reports()
    today = timezone.localdate()
    pending = exports.cpe_monitor_pending(today=today)
    return render(request, "credits/report_index.html", {
        "form": form,
        "query": request.GET.urlencode() if form.is_bound and form.is_valid() else "",
        "pending_header": pending.header,
        "pending": list(itertools.islice(pending.rows, 50)),
        "summaries": [
            (exports.evaluation_summary_get(activity=a), exports.outcomes_get(activity=a)) for a in activities
        ],
        "reports": exports.REPORTS,
    })


def report_csv(request, name: str):
    """Staff with the report permission: one report as streamed CSV (constant memory whatever the
    row count)."""
    _report_reader_or_refuse(request)
    if name not in exports.REPORTS:
        raise Http404("No such report.")
    # Missing dates default to this month (the activity reports do not use them).
    form = ReportFilterForm({**ReportFilterForm.initial_range(), **request.GET.dict()})
    if not form.is_valid():
        return HttpResponse("Give date_from and date_to as YYYY-MM-DD.", status=HTTPStatus.BAD_REQUEST,
                            content_type="text/plain")
    activity = None
    if name in ("evaluations", "outcomes"):
        slug = request.GET.get("activity", "")
        try:
            activity = selectors.activity_get(course_slug=slug, include_unpublished=True)
        except Activity.DoesNotExist:
            raise Http404("Choose an activity.") from None
    data = form.cleaned_data
    report = exports.report_build(name, date_from=data["date_from"], date_to=data["date_to"],
                                  credit_type=data["credit_type"], activity=activity, today=timezone.localdate())
    response = StreamingHttpResponse(exports.csv_lines(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y%m%d}.csv"'
    return response
