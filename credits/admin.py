"""Admin for the activity record (editable) and credit records (read-only).

Activities and their credit designations are configured here. Publishing is
an action that runs the publish check and refuses, listing every problem;
saving a published activity re-runs the check and unpublishes it if it now
fails. Claims, certificates, revocations, evaluations, reporting marks and
the audit log are read-only: they change only through credits/services.py,
as new rows, each in the audit log.
"""

from django.contrib import admin, messages

from credits import services
from credits.models import (
    Activity,
    AuditLog,
    Certificate,
    CertificateRevocation,
    Claim,
    ClaimReport,
    CreditDesignation,
    Evaluation,
)


class CreditDesignationInline(admin.StackedInline):
    model = CreditDesignation
    extra = 0
    can_delete = False  # claims point at designations (PROTECT); stop offering one instead
    fields = ["credit_type", "is_offered", "max_amount", "increment", "uan", "designation_statement",
              "accreditation_statement"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["course", "provider_name", "is_published", "published_at"]
    list_select_related = ["course"]
    readonly_fields = ["is_published", "published_at", "updated_at"]
    fields = [
        "course", "provider_name", "provider_address",
        ("requires_lessons", "requires_posttest", "requires_evaluation"),
        ("reports_to_pars", "pars_activity_id"), "reports_to_ce_broker",
        "is_published", "published_at", "updated_at",
    ]
    inlines = [CreditDesignationInline]
    actions = ["publish", "unpublish"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        problems = services.activity_recheck(activity_id=form.instance.pk, actor=request.user)
        if problems:
            level = messages.WARNING
            head = "Not publishable yet" if not form.instance.is_published else "Unpublished: the check now fails"
            self.message_user(request, f"{head}: " + " ".join(problems), level)

    @admin.action(description="Publish (runs the publish check)")
    def publish(self, request, queryset):
        for activity in queryset:
            try:
                services.activity_publish(activity_id=activity.pk, actor=request.user)
            except services.PublishRefused as exc:
                self.message_user(
                    request, f"{activity} was not published: " + " ".join(exc.problems), messages.ERROR
                )
            else:
                self.message_user(request, f"{activity} is published.", messages.SUCCESS)

    @admin.action(description="Unpublish (stop offering credit)")
    def unpublish(self, request, queryset):
        for activity in queryset:
            services.activity_unpublish(activity_id=activity.pk, actor=request.user, reason="unpublished in the admin")
        self.message_user(request, "Unpublished.", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ["full_name", "activity", "credit_type", "hours", "completed_on", "attested_at"]
    ordering = ["-pk"]  # newest first, by index: the model's ordering sorted the whole table per page (tests/test_scale.py)
    list_filter = ["credit_type", "activity"]
    list_select_related = ["activity__course"]
    search_fields = ["full_name", "learner__email", "npi", "nabp_eprofile_id"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["learner_name", "activity_title", "credit_label", "amount", "issued_at"]
    list_filter = ["credit_type"]
    search_fields = ["learner_name", "code"]


@admin.register(CertificateRevocation)
class CertificateRevocationAdmin(ReadOnlyAdmin):
    list_display = ["certificate", "revoked_at", "revoked_by", "reason"]
    list_select_related = ["certificate", "revoked_by"]


@admin.register(ClaimReport)
class ClaimReportAdmin(ReadOnlyAdmin):
    list_display = ["claim", "destination", "reported_at", "reference"]
    list_filter = ["destination"]


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdmin):
    list_display = ["activity", "practice_change", "perceived_bias", "submitted_at"]
    ordering = ["-pk"]  # newest first, by index: the model's ordering sorted the whole table per page (tests/test_scale.py)
    list_filter = ["activity", "practice_change", "perceived_bias"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["seq", "occurred_at", "actor", "action", "object_ref"]
    list_filter = ["action"]
    search_fields = ["object_ref"]
    list_select_related = ["actor"]
