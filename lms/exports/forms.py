"""The staff's "start an export" forms, one per kind; each gives the job's parameters,
which are the management command's options."""

from __future__ import annotations

from django import forms

from credits.models import CreditType
from curriculum.models import Course
from lms.exports import builders


def _courses(published_only: bool) -> list[tuple[str, str]]:
    courses = Course.objects.published() if published_only else Course.objects.all()
    return list(courses.order_by("title").values_list("slug", "title"))


class QtiExportForm(forms.Form):
    kind = "qti"
    course = forms.ChoiceField(label="Course")
    version = forms.ChoiceField(label="QTI version", choices=[(v, v) for v in builders.QTI_VERSIONS])

    def __init__(self, *args, courses=None, **kwargs):
        super().__init__(*args, prefix="qti", **kwargs)
        self.fields["course"].choices = courses if courses is not None else _courses(False)

    def parameters(self) -> dict:
        return {"course": self.cleaned_data["course"], "version": self.cleaned_data["version"]}


class ScormExportForm(forms.Form):
    kind = "scorm"
    course = forms.ChoiceField(label="Course (published)")
    version = forms.ChoiceField(label="SCORM version", choices=[(v, v) for v in builders.SCORM_VERSIONS])
    mode = forms.ChoiceField(
        label="Mode",
        choices=[
            ("connected", "Connected (reports to this site; no keys)"),
            ("self-contained", "Self-contained (offline; includes knowledge-check keys)"),
        ],
    )

    def __init__(self, *args, courses=None, **kwargs):
        super().__init__(*args, prefix="scorm", **kwargs)
        self.fields["course"].choices = courses if courses is not None else _courses(True)

    def parameters(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("course", "version", "mode")}


class CreditReportExportForm(forms.Form):
    kind = "credit_report"
    report = forms.ChoiceField(label="Report", choices=[(r, r) for r in builders.REPORTS])
    date_from = forms.DateField(
        label="From (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To (optional; today)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    credit_type = forms.ChoiceField(
        label="Credit type", required=False, choices=[("", "All")] + list(CreditType.choices)
    )
    activity = forms.ChoiceField(label="Course (evaluations, outcomes)", required=False)

    def __init__(self, *args, courses=None, **kwargs):
        super().__init__(*args, prefix="report", **kwargs)
        self.fields["activity"].choices = [("", "—")] + (courses if courses is not None else _courses(False))

    def clean(self):
        data = super().clean()
        if data.get("report") in ("evaluations", "outcomes") and not data.get("activity"):
            self.add_error("activity", "This report is about one course: choose it.")
        return data

    def parameters(self) -> dict:
        d = self.cleaned_data
        return {
            "report": d["report"],
            "date_from": d["date_from"].isoformat() if d.get("date_from") else "",
            "date_to": d["date_to"].isoformat() if d.get("date_to") else "",
            "credit_type": d.get("credit_type", ""),
            "activity": d.get("activity", ""),
        }


FORMS = {form.kind: form for form in (QtiExportForm, ScormExportForm, CreditReportExportForm)}
