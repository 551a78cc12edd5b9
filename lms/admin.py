"""Staff screens: organisations, tokens and webhook secrets (each shown once),
the outbox: deliveries with their try log, filterable, re-queueable; and the
export jobs, each with its progress and a download link (served by
lms/exports/views.py after its permission check)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from lms import outbox, services
from lms.exports import rules
from lms.exports import services as export_services
from lms.models import (
    Delivery,
    DeliveryAttempt,
    Enrolment,
    ExportJob,
    ExternalLearner,
    IntegrationToken,
    LinkRequest,
    Organisation,
    Scope,
    WebhookSubscription,
)


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]


@admin.register(ExternalLearner)
class ExternalLearnerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "organisation", "user", "created_at"]
    ordering = ["-pk"]  # newest first, by index: the model's ordering sorted the whole table per page (tests/test_scale.py)
    list_filter = ["organisation"]
    search_fields = ["external_id", "user__email"]
    list_select_related = ["organisation", "user"]
    readonly_fields = ["organisation", "external_id", "user", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False  # created by enrolment sync (the API), which keeps its invariants


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ["learner", "course", "status", "updated_at"]
    ordering = ["-pk"]  # newest first, by index: the model's ordering sorted the whole table per page (tests/test_scale.py)
    list_filter = ["status", "learner__organisation", "course"]
    list_select_related = ["learner__organisation", "course"]
    readonly_fields = ["learner", "course", "status", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False


class TokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = IntegrationToken
        fields = ["organisation", "name", "scopes"]


def _show_secret_once(request, obj, *, title: str, secret: str, note: str):
    return TemplateResponse(
        request,
        "lms/secret_created.html",
        {"title": title, "object": obj, "secret": secret, "note": note, "opts": obj._meta},
    )


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "organisation", "lookup", "scope_list", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organisation", "revoked_at"]
    list_select_related = ["organisation"]
    readonly_fields = ["organisation", "name", "lookup", "scopes", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return ", ".join(obj.scopes)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TokenForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["organisation", "name", "scopes"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # Tokens are made by the service (hash, lookup); the raw value exists only in this response.
        token, raw = services.integration_token_create(
            organisation=form.cleaned_data["organisation"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            created_by=request.user,
        )
        obj.pk = token.pk
        request._lms_raw_secret = raw

    def response_add(self, request, obj, post_url_continue=None):
        return _show_secret_once(
            request, obj, title="Integration token created", secret=request._lms_raw_secret,
            note="Send it as 'Authorization: Bearer <token>'. It is stored only as a hash.",
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.integration_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=[], widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookSubscription
        fields = ["organisation", "url", "events", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(name, name) for name in outbox.event_type_names()]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["url", "organisation", "event_list", "is_active", "created_at"]
    list_filter = ["organisation", "is_active"]
    list_select_related = ["organisation"]

    @admin.display(description="events")
    def event_list(self, obj) -> str:
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        try:
            subscription, secret = services.webhook_subscription_create(
                organisation=form.cleaned_data["organisation"],
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ValidationError as exc:  # the form validated the same fields; a race at worst
            raise forms.ValidationError(exc.messages) from exc
        obj.pk = subscription.pk
        request._lms_raw_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        return _show_secret_once(
            request, obj, title="Webhook subscription created", secret=request._lms_raw_secret,
            note="Verify each request's webhook-signature with it (Standard Webhooks).",
        )


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "response_code", "duration_ms", "error", "started_at", "worker"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class HeldFilter(admin.SimpleListFilter):
    """Pending deliveries that wait because their destination is paused (not failing)."""

    title = "destination paused"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Held: destination paused"), ("no", "Not held")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_held=True)
        if self.value() == "no":
            return queryset.filter(is_held=False)
        return queryset


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "pk", "event_type", "kind", "subscription", "destination_id", "status", "held", "attempts", "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", HeldFilter, "kind", "event_type"]
    list_select_related = ["subscription__organisation"]
    search_fields = ["idempotency_key", "subscription__url"]
    readonly_fields = [
        "event", "kind", "subscription", "destination_id", "event_type", "idempotency_key", "status", "attempts",
        "next_attempt_at", "claimed_by", "last_error", "created_at", "delivered_at",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["requeue"]

    def get_queryset(self, request):
        # Whether the destination is paused, in the list's one query (a subquery per destination kind).
        held = ExpressionWrapper(Q(status=Delivery.Status.PENDING) & outbox.deliveries_held_q(), BooleanField())
        return super().get_queryset(request).annotate(is_held=held)

    @admin.display(description="destination paused", boolean=True, ordering="is_held")
    def held(self, obj) -> bool:
        return obj.is_held

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Re-queue selected deliveries (send again now)")
    def requeue(self, request, queryset):
        count = outbox.deliveries_requeue(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Re-queued {count} delivery(ies); delivered ones were left alone.", messages.SUCCESS)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Every export job; new ones start from the staff exports page (the "Start an export" link),
    whose forms check the kind's permission. The file downloads through the job's own view."""

    change_list_template = "admin/lms/exportjob/change_list.html"
    list_display = ["pk", "kind", "course", "requested_by", "state", "progress", "created_at", "finished_at",
                    "download"]
    list_filter = ["state", "kind"]
    list_select_related = ["requested_by"]
    readonly_fields = [
        "kind", "parameters", "requested_by", "state", "progress_done", "progress_total", "message", "filename",
        "size", "error", "runs", "claimed_by", "created_at", "started_at", "heartbeat_at", "finished_at", "download",
    ]
    exclude = ["file"]
    actions = ["run_again"]

    def has_add_permission(self, request) -> bool:
        return False  # started from /staff/exports/, which checks the export's permission

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Course")
    def course(self, obj: ExportJob) -> str:
        return obj.parameters.get("course") or obj.parameters.get("activity") or obj.parameters.get("report", "")

    @admin.display(description="Progress")
    def progress(self, obj: ExportJob) -> str:
        if obj.progress_total:
            return f"{obj.progress_done}/{obj.progress_total}"
        return str(obj.progress_done or "–")

    @admin.display(description="File")
    def download(self, obj: ExportJob) -> str:
        page = reverse("lms_exports:job_detail", args=[obj.pk])
        if obj.state != ExportJob.State.DONE:
            return format_html('<a href="{}">progress</a>', page)
        return format_html('<a href="{}">{}</a>', reverse("lms_exports:job_download", args=[obj.pk]), obj.filename)

    @admin.action(description="Run selected exports again (queue a copy for me)")
    def run_again(self, request, queryset):
        queued = refused = 0
        for job in queryset:
            if not rules.may_export(request.user, job.kind, job.parameters):
                refused += 1
                continue
            export_services.export_job_request(kind=job.kind, parameters=job.parameters, requested_by=request.user)
            queued += 1
        self.message_user(request, f"Queued {queued} export(s); {refused} refused (missing permission).",
                          messages.SUCCESS if not refused else messages.WARNING)


@admin.register(LinkRequest)
class LinkRequestAdmin(admin.ModelAdmin):
    """Read-only: requests are made by enrolment sync and decided by the learner alone."""

    list_display = ["organisation", "external_id", "user", "status", "created_at", "decided_at"]
    list_filter = ["status", "organisation"]
    list_select_related = ["organisation", "user"]
    search_fields = ["external_id", "user__email"]
    readonly_fields = [
        "organisation", "external_id", "user", "email", "full_name", "courses", "status",
        "created_at", "updated_at", "decided_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
