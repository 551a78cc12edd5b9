from django import forms
from django.contrib import admin
from django.db import models

from lms.xapi.models import LrsEndpoint


def _https_urls(db_field, **kwargs):
    # An LRS URL typed without a scheme means https (Django 6's default; silences 5.2's warning).
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class LrsEndpointForm(forms.ModelForm):
    # Write-only: the stored secret is never rendered back into the page.
    secret = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                             help_text="Leave empty to keep the current secret.")

    class Meta:
        model = LrsEndpoint
        formfield_callback = _https_urls
        fields = ["organisation", "url", "key", "secret", "actor_home_page", "identify_by_email", "is_active"]

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if not secret and self.instance.pk:
            return self.instance.secret
        if not secret:
            raise forms.ValidationError("An LRS needs a secret.")
        return secret


@admin.register(LrsEndpoint)
class LrsEndpointAdmin(admin.ModelAdmin):
    form = LrsEndpointForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["organisation", "url", "identify_by_email", "is_active", "created_at"]
    list_filter = ["is_active"]
    list_select_related = ["organisation"]
