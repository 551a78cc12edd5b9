"""Staff set up, pause and resume organisations' LRSs; the list shows each one's
state and how many deliveries wait for it."""

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime

from lms.models import Delivery
from lms.xapi.delivery import KIND
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
    list_display = ["organisation", "url", "identify_by_email", "state", "held_count", "created_at"]
    list_filter = ["is_active", ("paused_at", admin.EmptyFieldListFilter)]
    list_select_related = ["organisation"]
    readonly_fields = ["paused_at"]
    actions = ["pause", "resume"]

    def get_queryset(self, request):
        # Pending deliveries per endpoint, counted in the list's one query.
        pending = (
            Delivery.objects.filter(kind=KIND, destination_id=OuterRef("pk"), status=Delivery.Status.PENDING)
            .order_by()
            .values("destination_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(pending=Coalesce(Subquery(pending), 0))

    @admin.display(description="state")
    def state(self, obj) -> str:
        if not obj.is_active:
            return "Retired (queued events held)"
        if not obj.organisation.is_active:
            return "Organisation switched off (events held)"
        if obj.paused_at:
            return f"Paused since {date_format(localtime(obj.paused_at), 'DATETIME_FORMAT')}"
        return "Delivering"

    @admin.display(description="pending deliveries", ordering="pending")
    def held_count(self, obj) -> int:
        return obj.pending

    @admin.action(description="Pause selected endpoints (hold their events; nothing is dead-lettered)")
    def pause(self, request, queryset):
        count = queryset.filter(paused_at__isnull=True).update(paused_at=timezone.now())
        self.message_user(request, f"Paused {count} endpoint(s); their events wait in the outbox.", messages.SUCCESS)

    @admin.action(description="Resume selected endpoints (send held events, oldest first)")
    def resume(self, request, queryset):
        count = queryset.filter(paused_at__isnull=False).update(paused_at=None)
        self.message_user(request, f"Resumed {count} endpoint(s).", messages.SUCCESS)
