"""Admin for the question bank and quiz settings.

Item versions and options are read-only: an author edits an item as the same
YAML the item files hold, saved through `services.item_revise` (the loader's
validation), which makes a new immutable version. Quiz
settings (pass mark, attempts, waiting time, draw, review rule) are editable.
Attempts are read-only: grades change only through the services.
"""

import yaml
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from curriculum.admin import SourceEditAdmin, SourceEditForm
from quizzes import services
from quizzes.models import Attempt, Item, ItemVersion, Option, Quiz


class OptionInline(admin.TabularInline):
    model = Option
    extra = 0
    can_delete = False
    fields = ["position", "text_html", "is_correct", "rationale_html"]
    readonly_fields = fields


@admin.register(ItemVersion)
class ItemVersionAdmin(admin.ModelAdmin):
    list_display = ["item", "number", "type", "difficulty", "objective", "created_at"]
    list_filter = ["type", "difficulty", "item__course"]
    search_fields = ["item__key", "stem"]
    inlines = [OptionInline]
    list_select_related = ["item__course", "objective"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ItemSourceForm(SourceEditForm):
    class Meta:
        model = Item
        fields = ["is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].help_text = (
            "The item as YAML, in the item-file format (curriculum/content/README.md)."
        )
        item = self.instance
        if item.pk and item.current_version is not None:
            # Pools and enemies live on the item, not the version: a reload can change them without
            # a new version, so show the item's own, or saving the form would put the old ones back.
            data = yaml.safe_load(item.current_version.source or "") or {}
            if isinstance(data, dict):
                data["pools"] = item.pools
                data.pop("enemies", None)
                if item.enemies:
                    data["enemies"] = item.enemies
                self.fields["source"].initial = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)

    def revise(self, instance, source, user):
        return services.item_revise(item=instance, source=source, user=user)


@admin.register(Item)
class ItemAdmin(SourceEditAdmin):
    form = ItemSourceForm
    new_version_message = "Saved as version {number}; its statistics start afresh."
    list_display = ["key", "course", "pools", "enemies", "is_active", "current_version"]
    list_filter = ["course", "is_active"]
    search_fields = ["key"]
    readonly_fields = ["course", "key", "current_version"]
    list_select_related = ["course", "current_version__item__course"]


@admin.register(Quiz)
class QuizAdmin(admin.ModelAdmin):
    list_display = [
        "title", "course", "kind", "pass_mark", "attempt_limit", "wait_minutes", "review_rule", "analysis_link"
    ]
    list_filter = ["course", "kind"]
    readonly_fields = ["course", "kind", "lesson"]
    list_select_related = ["course"]

    @admin.display(description="Item analysis")
    def analysis_link(self, obj):
        return format_html('<a href="{}">Item analysis</a>', reverse("quizzes:item_analysis", args=[obj.pk]))


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["quiz", "learner", "number", "started_at", "submitted_at", "score", "passed"]
    ordering = ["-pk"]  # newest first, by index: the model's ordering sorted the whole table per page (tests/test_scale.py)
    list_filter = ["quiz", "passed"]
    search_fields = ["learner__email"]
    list_select_related = ["quiz", "learner"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
