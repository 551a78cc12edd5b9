"""Authoring in the admin. Lesson text is edited as the same file format the
loader reads, and saved through `services.lesson_revise`, so the admin gets
the loader's validation and rendering and every edit is a new version.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from curriculum import selectors, services
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


class SourceEditForm(forms.ModelForm):
    """Edit a versioned record as its content-file text, saved through a service.

    Subclasses set `revise(instance, source, user)`: the service that validates
    the text with the loader's rules and creates a new immutable version (or
    returns None when nothing changed), raising ValidationError otherwise.
    Used for lessons here and for question items in quizzes/admin.py.
    """

    source = forms.CharField(widget=forms.Textarea(attrs={"rows": 40, "cols": 100}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.current_version_id:
            self.fields["source"].initial = self.instance.current_version.source

    def revise(self, instance, source: str, user):
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        source = cleaned.get("source")
        if source and self.instance.pk:
            try:
                self._new_version = self.revise(self.instance, source, getattr(self, "_user", None))
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
        return cleaned


class SourceEditAdmin(admin.ModelAdmin):
    """Admin for a record edited through SourceEditForm: no add or delete here."""

    new_version_message = "Saved as version {number}."

    def has_add_permission(self, request):
        return False  # new records come from content files (load_curriculum)

    def has_delete_permission(self, request, obj=None):
        return False  # learner records rest on them; unpublish or deactivate instead

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form._user = request.user
        return form

    def save_model(self, request, obj, form, change):
        obj.save(update_fields=list(self.form.Meta.fields))  # the model fields; "source" is not one
        version = getattr(form, "_new_version", None)
        if version is not None:
            messages.info(request, self.new_version_message.format(number=version.number))


class LessonSourceForm(SourceEditForm):
    class Meta:
        model = Lesson
        fields = ["is_published"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].help_text = (
            "The whole lesson file: YAML header and Markdown (see curriculum/content/README.md)."
        )

    def revise(self, instance, source, user):
        return services.lesson_revise(lesson=instance, source=source, user=user)


@admin.register(Lesson)
class LessonAdmin(SourceEditAdmin):
    form = LessonSourceForm
    list_display = ["__str__", "position", "is_published", "current_version"]
    list_filter = ["course", "is_published"]
    list_select_related = ["course", "current_version"]


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


class VerbFilter(admin.SimpleListFilter):
    """The outbox's verbs without reading every event, as `list_filter = ["verb"]` did."""

    title = "verb"
    parameter_name = "verb"

    def lookups(self, request, model_admin):
        return [(verb, verb) for verb in selectors.learner_event_verbs()]

    def queryset(self, request, queryset):
        return queryset.filter(verb=self.value()) if self.value() else queryset


@admin.register(LearnerEvent)
class LearnerEventAdmin(ReadOnlyAdmin):
    list_display = ["pk", "verb", "object_ref", "learner", "occurred_at"]
    list_filter = [VerbFilter]
