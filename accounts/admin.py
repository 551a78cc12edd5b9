from axes.admin import AccessAttemptAdmin as AxesAccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.forms import AdminUserAddForm, AdminUserChangeForm
from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    ordering = ["email"]
    list_display = ["email", "full_name", "profession", "is_staff", "date_joined"]
    list_filter = ["profession", "is_staff", "is_active"]
    search_fields = ["email", "full_name", "npi", "nabp_eprofile_id"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (
            "Profile",
            {
                "fields": [
                    "full_name",
                    "profession",
                    "npi",
                    "nabp_eprofile_id",
                    "licence_number",
                    "licence_state",
                ]
            },
        ),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]}),
    ]


# django-axes (log-in throttling) registers this admin; its "Clean up expired attempts" action
# read request.axes_attempt_time, which axes sets only on a log-in request: every use was a 500
# (tests/security/test_junk_input.py runs every admin action). Installed after axes, so this
# registration replaces axes's.
admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(AxesAccessAttemptAdmin):
    @admin.action(description="Clean up expired attempts")
    def cleanup_expired_attempts(self, request, queryset):
        request.axes_attempt_time = None  # "now": attempts older than the cool-off are expired
        return super().cleanup_expired_attempts(request, queryset)
