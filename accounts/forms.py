"""Sign-up and profile forms, and the admin's user forms: all apply the claim's rules."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm

from accounts import identifiers
from accounts.models import User


class ProfileFieldsMixin:
    """The checks the claim applies (accounts/identifiers.py), where the learner types the value."""

    def clean_full_name(self):
        name = self.cleaned_data["full_name"].strip()
        if problem := identifiers.full_name_problem(name):
            raise forms.ValidationError(problem)
        return name

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
        if npi and not identifiers.npi_is_valid(npi):
            raise forms.ValidationError(identifiers.NPI_INVALID)
        return npi

    def clean_nabp_eprofile_id(self):
        value = self.cleaned_data.get("nabp_eprofile_id", "").strip()
        if value and not identifiers.nabp_eprofile_is_valid(value):
            raise forms.ValidationError(identifiers.NABP_EPROFILE_INVALID)
        return value

    def clean_licence_state(self):
        value = self.cleaned_data.get("licence_state", "").strip().upper()
        if value and not identifiers.LICENCE_STATE_PATTERN.fullmatch(value):
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


class AdminUserChangeForm(ProfileFieldsMixin, auth_forms.UserChangeForm):
    """Staff correcting a learner's record in the admin meet the same rules as the learner."""


class AdminUserAddForm(ProfileFieldsMixin, auth_forms.AdminUserCreationForm):
    pass
