"""Platform registration. The tool key is generated on first save and never
shown; platforms fetch its public half from /lti/jwks/."""

from django.contrib import admin
from django.db import models

from lms.lti.models import LineItem, LtiUser, Platform, ResourceLink, tool_key_generate


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "issuer", "client_id", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "issuer", "client_id"]
    readonly_fields = ["tool_kid", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        if not obj.tool_private_key:
            obj.tool_private_key, obj.tool_kid = tool_key_generate()
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
