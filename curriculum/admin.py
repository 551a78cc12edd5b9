"""Authoring in the admin. Lesson text is edited as the same file format the
loader reads, and saved through `services.lesson_revise`, so the admin gets
the loader's validation and rendering and every edit is a new version.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from curriculum import services
from curriculum.models import (
    Course,
    Interaction,
    LearnerEvent,
    Lesson,
    LessonProgress,
    LessonVersion,
    Myth,
    Objective,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "release_date", "expiry_date", "is_published"]
    readonly_fields = ["slug", "source_hash", "updated_at"]


class LessonSourceForm(forms.ModelForm):
    source = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 40, "cols": 100}),
        help_text="The whole lesson file: YAML header and Markdown (see curriculum/content/README.md).",
    )

    class Meta:
        model = Lesson
        fields = ["is_published"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.current_version_id:
            self.fields["source"].initial = self.instance.current_version.source

    def clean(self):
        cleaned = super().clean()
        source = cleaned.get("source")
        if source and self.instance.pk:
            try:
                self._new_version = services.lesson_revise(
                    lesson=self.instance, source=source, user=getattr(self, "_user", None)
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
        return cleaned


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    form = LessonSourceForm
    list_display = ["__str__", "position", "is_published", "current_version"]
    list_filter = ["course", "is_published"]
    list_select_related = ["course", "current_version"]

    def has_add_permission(self, request):
        return False  # new lessons come from content files (load_curriculum)

    def has_delete_permission(self, request, obj=None):
        return False  # learner records rest on lessons; unpublish instead

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form._user = request.user
        return form

    def save_model(self, request, obj, form, change):
        obj.save(update_fields=["is_published"])
        version = getattr(form, "_new_version", None)
        if version is not None:
            messages.info(request, f"Saved as version {version.number}.")


@admin.register(LessonVersion)
class LessonVersionAdmin(ReadOnlyAdmin):
    list_display = ["lesson", "number", "title", "last_reviewed", "created_at", "created_by"]
    list_select_related = ["lesson__course", "created_by"]


@admin.register(Objective)
class ObjectiveAdmin(ReadOnlyAdmin):
    list_display = ["key", "text", "lesson", "is_active"]
    list_filter = ["course", "is_active"]


@admin.register(Interaction)
class InteractionAdmin(ReadOnlyAdmin):
    list_display = ["drug", "drug_class", "severity", "evidence", "is_active"]
    list_filter = ["severity", "evidence"]
    search_fields = ["drug", "drug_class"]


@admin.register(Myth)
class MythAdmin(ReadOnlyAdmin):
    list_display = ["key", "claim", "lesson"]


@admin.register(LessonProgress)
class LessonProgressAdmin(ReadOnlyAdmin):
    list_display = ["learner", "lesson", "first_opened_at", "completed_at", "seconds_on_page"]
    list_select_related = ["learner", "lesson__course"]


@admin.register(LearnerEvent)
class LearnerEventAdmin(ReadOnlyAdmin):
    list_display = ["pk", "verb", "object_ref", "learner", "occurred_at"]
    list_filter = ["verb"]
