"""Sign-up and profile forms."""

import re

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import User

_NPI_RE = re.compile(r"^\d{10}$")
_NABP_RE = re.compile(r"^\d{1,10}$")
_STATE_RE = re.compile(r"^[A-Z]{2}$")


class ProfileFieldsMixin:
    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        qs = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email

    def clean_npi(self):
        npi = self.cleaned_data.get("npi", "").strip()
        if npi and not _NPI_RE.match(npi):
            raise forms.ValidationError("An NPI is exactly 10 digits.")
        return npi

    def clean_nabp_eprofile_id(self):
        value = self.cleaned_data.get("nabp_eprofile_id", "").strip()
        if value and not _NABP_RE.match(value):
            raise forms.ValidationError("An NABP e-Profile ID is a number of up to 10 digits.")
        return value

    def clean_licence_state(self):
        value = self.cleaned_data.get("licence_state", "").strip().upper()
        if value and not _STATE_RE.match(value):
            raise forms.ValidationError("Use the two-letter state code, e.g. OH.")
        return value


class SignUpForm(ProfileFieldsMixin, UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "full_name", "profession", "npi", "nabp_eprofile_id"]


class ProfileForm(ProfileFieldsMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = [
            "email",
            "full_name",
            "profession",
            "npi",
            "nabp_eprofile_id",
            "licence_number",
            "licence_state",
        ]
