"""Platform registration. The tool key is generated on first save and never
shown; platforms fetch its public half from /lti/jwks/. The origins allowed to
frame the course are edited one per line; a new registration left without any
gets the origins of its issuer and auth URL."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from lms.lti.framing import frame_origins_default, origin_normalize
from lms.lti.models import LineItem, LtiUser, Platform, ResourceLink, tool_key_generate


class OriginListField(forms.CharField):
    """A list of origins as a textarea, one per line, each normalised (or an error naming it)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        origins: list[str] = []
        errors: list[ValidationError] = []
        for line in (value or "").splitlines():
            if not line.strip():
                continue
            try:
                origin = origin_normalize(line)
            except ValidationError as exc:
                errors.append(exc)
                continue
            if origin not in origins:
                origins.append(origin)
        if errors:
            raise ValidationError(errors)
        return origins


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "client_id", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "issuer", "client_id"]
    readonly_fields = ["tool_kid", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "frame_origins":
            return OriginListField(required=False, label="Frame origins", help_text=db_field.help_text)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not obj.tool_private_key:
            obj.tool_private_key, obj.tool_kid = tool_key_generate()
        if not change and not obj.frame_origins:
            obj.frame_origins = frame_origins_default(obj.issuer, obj.auth_login_url)
        super().save_model(request, obj, form, change)


@admin.register(LtiUser)
class LtiUserAdmin(admin.ModelAdmin):
    list_display = ["sub", "platform", "user", "last_launch_at"]
    list_select_related = ["platform", "user"]
    search_fields = ["sub", "user__email"]
    raw_id_fields = ["user"]


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin):
    list_display = ["resource_link_id", "platform", "title", "course", "lesson", "quiz_kind", "updated_at"]
    list_select_related = ["platform", "course", "lesson"]
    search_fields = ["resource_link_id", "title"]


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin):
    list_display = ["resource_link", "url", "updated_at"]
    list_select_related = ["resource_link"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
