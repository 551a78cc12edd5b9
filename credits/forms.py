"""Forms for the evaluation, the claim and the staff report filter.

They parse input only; what a claim needs (hours in increments, NPI check
digit, NABP e-Profile ID, birth month/day, licence) is decided by
`services.claim_input_problems`, whose errors the view puts on these fields.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from credits.models import CreditDesignation, CreditType, Evaluation

LIKERT = [
    ("5", "Strongly agree"),
    ("4", "Agree"),
    ("3", "Neutral"),
    ("2", "Disagree"),
    ("1", "Strongly disagree"),
]
MONTHS = [("", "—")] + [(str(m), dt.date(2024, m, 1).strftime("%B")) for m in range(1, 13)]


class EvaluationForm(forms.Form):
    practice_change = forms.ChoiceField(
        label="Will this activity change your practice?",
        choices=Evaluation.PracticeChange.choices,
        widget=forms.RadioSelect,
    )
    practice_change_detail = forms.CharField(
        label="What will you change, if anything?", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    perceived_bias = forms.TypedChoiceField(
        label="Did you perceive commercial bias or influence in this activity?",
        choices=[("no", "No"), ("yes", "Yes")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    bias_detail = forms.CharField(
        label="If yes, where?", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    comments = forms.CharField(label="Other comments", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, objectives, **kwargs):
        super().__init__(*args, **kwargs)
        self.objectives = objectives
        rating_fields = {
            f"objective_{o.pk}": forms.TypedChoiceField(
                label=f"The activity met this objective: {o.text}",
                choices=LIKERT,
                coerce=int,
                widget=forms.RadioSelect,
            )
            for o in objectives
        }
        self.fields = {**rating_fields, **self.fields}

    def ratings(self) -> dict[int, int]:
        return {o.pk: self.cleaned_data[f"objective_{o.pk}"] for o in self.objectives}


class ClaimForm(forms.Form):
    credit_type = forms.ChoiceField(label="Credit type", widget=forms.RadioSelect)
    hours = forms.DecimalField(
        label="Time you actually spent (hours)", min_value=0, max_digits=5, decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.25", "inputmode": "decimal"}),
    )
    full_name = forms.CharField(label="Name for the certificate", max_length=200)
    given_name = forms.CharField(label="First name (for PARS reporting)", max_length=100, required=False)
    family_name = forms.CharField(label="Last name (for PARS reporting)", max_length=100, required=False)
    npi = forms.CharField(
        label="NPI", max_length=10, required=False, help_text="10 digits; physicians reporting to PARS."
    )
    nabp_eprofile_id = forms.CharField(
        label="NABP e-Profile ID", max_length=10, required=False, help_text="Pharmacists: for CPE Monitor."
    )
    birth_month = forms.TypedChoiceField(
        label="Birth month", choices=MONTHS, coerce=int, empty_value=None, required=False
    )
    birth_day = forms.IntegerField(label="Birth day", min_value=1, max_value=31, required=False)
    licence_number = forms.CharField(label="Licence number", max_length=40, required=False)
    licence_state = forms.CharField(
        label="Licence state", max_length=2, required=False, help_text="Two letters, e.g. OH."
    )
    attested = forms.BooleanField(
        label="I attest that I completed this activity and spent the time entered above.", required=False
    )

    def __init__(self, *args, designations: list[CreditDesignation], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credit_type"].choices = [
            (d.credit_type, f"{d.get_credit_type_display()} (up to {d.max_amount}, in steps of {d.increment})")
            for d in designations
        ]
        if len(designations) == 1:
            self.fields["credit_type"].initial = designations[0].credit_type

    def clean_licence_state(self) -> str:
        return self.cleaned_data["licence_state"].strip().upper()

    def clean_npi(self) -> str:
        return self.cleaned_data["npi"].strip()

    def clean_nabp_eprofile_id(self) -> str:
        return self.cleaned_data["nabp_eprofile_id"].strip()


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    credit_type = forms.ChoiceField(
        label="Credit type", required=False, choices=[("", "All")] + list(CreditType.choices)
    )

    @classmethod
    def initial_range(cls) -> dict:
        today = timezone.localdate()
        return {"date_from": today.replace(day=1), "date_to": today}
