"""Courses, lessons and their immutable versions, objectives, the interaction
table, lesson progress, and the outbox of learner events.

A `Lesson` is the stable identity a learner's progress attaches to; what it
says lives in immutable `LessonVersion` rows, a new one each time the content
changes, so a learner's record always points at what they actually read.
Markdown is rendered and sanitised once, when a version is created
(`curriculum/markdown.py`); pages serve the stored HTML.

Lesson progress and `LearnerEvent` live here, in the lowest app that emits
learner facts, so that the lesson page can record progress and its outbox row
in one transaction without importing a higher layer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest


class CourseQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)


class Course(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField()
    description_html = models.TextField(help_text="Rendered and sanitised at load.")
    estimated_minutes = models.PositiveIntegerField()
    target_audience = models.TextField()
    release_date = models.DateField()
    review_date = models.DateField()
    expiry_date = models.DateField()
    review_cycle_months = models.PositiveSmallIntegerField(default=12)
    faculty = models.JSONField(
        default=list, help_text="[{name, role, credentials, disclosure}], as in course.md."
    )
    disclosure_mitigation = models.TextField(blank=True)
    commercial_support = models.TextField()
    accreditation_notice = models.TextField()
    hardware_software = models.TextField()
    privacy = models.TextField()
    is_published = models.BooleanField(default=True)
    source_hash = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class LessonQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True, current_version__isnull=False)


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="lessons")
    slug = models.SlugField(max_length=80)
    position = models.PositiveSmallIntegerField()
    is_published = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "LessonVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["course", "position"]
        constraints = [
            # Lesson URLs are /courses/<course>/lessons/<slug>/.
            models.UniqueConstraint(fields=["course", "slug"], name="curriculum_lesson_slug_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.course.slug}/{self.slug}"

    @property
    def title(self) -> str:
        return self.current_version.title if self.current_version_id else self.slug


class LessonVersion(models.Model):
    """What a lesson said at one time. Never updated: a change is a new row."""

    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    estimated_minutes = models.PositiveSmallIntegerField()
    last_reviewed = models.DateField()
    objectives = models.JSONField(help_text="[{key, text}] as published in this version.")
    references = models.JSONField(
        help_text="[{number, key, citation, pmid, doi, url}] in citation order."
    )
    source = models.TextField(help_text="The lesson file as loaded (header and Markdown).")
    body_html = models.TextField()
    toc_html = models.TextField()
    anchors = models.JSONField(default=list, help_text="Heading anchors, for link checks.")
    content_hash = models.CharField(max_length=64)
    source_path = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["lesson", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["lesson", "number"], name="curriculum_lessonversion_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesson} v{self.number}"


class Objective(models.Model):
    """A learning objective, stable by key so items and outcomes can point at it."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="objectives")
    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="objective_set")
    key = models.CharField(max_length=20)
    text = models.TextField()
    position = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["course", "lesson__position", "position"]
        constraints = [
            models.UniqueConstraint(fields=["course", "key"], name="curriculum_objective_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.text}"


class Interaction(models.Model):
    """One row of the course's drug-interaction table (interactions.yaml)."""

    class Severity(models.TextChoices):
        MAJOR = "major", "Major"
        MODERATE = "moderate", "Moderate"
        MINOR = "minor", "Minor"
        UNKNOWN = "unknown", "Unknown"

    class Evidence(models.TextChoices):
        WELL_ESTABLISHED = "well-established", "Well-established"
        LIMITED = "limited", "Limited evidence"
        CASE_REPORTS = "case-reports", "Case reports only"
        THEORETICAL = "theoretical", "Theoretical (mechanism only)"

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="interactions")
    key = models.SlugField(max_length=80)
    position = models.PositiveSmallIntegerField()
    drug = models.CharField(max_length=300)
    drug_class = models.CharField(max_length=200)
    mechanism = models.TextField()
    effect = models.TextField()
    severity = models.CharField(max_length=20, choices=Severity.choices)
    evidence = models.CharField(max_length=20, choices=Evidence.choices)
    management = models.TextField()
    references = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["course", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "key"], name="curriculum_interaction_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.drug


class Myth(models.Model):
    """A claim circulating online that the course corrects (myths.yaml)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="myths")
    key = models.CharField(max_length=20)
    claim = models.TextField()
    verdict = models.TextField()
    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["course", "key"]
        constraints = [
            models.UniqueConstraint(fields=["course", "key"], name="curriculum_myth_key_unique"),
        ]

    def __str__(self) -> str:
        return self.claim


class LessonProgress(models.Model):
    """One learner's progress on one lesson: opened, completed, time on page."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lesson_progress"
    )
    lesson = models.ForeignKey(Lesson, on_delete=models.PROTECT, related_name="progress")
    first_opened_at = models.DateTimeField()
    last_opened_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_version = models.ForeignKey(
        LessonVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    seconds_on_page = models.PositiveIntegerField(default=0)
    visits = models.PositiveIntegerField(default=0)
    # The integrators' progress feed is ordered and filtered by this (issue #8):
    # stored and indexed so a page reads its rows by index instead of sorting
    # every enrolled learner's progress. Generated by the database, not kept by
    # the services: it holds on every write path (update(), bulk_create, the
    # benchmark's COPY, the admin) and on PostgreSQL and SQLite alike.
    updated_at = models.GeneratedField(
        expression=Greatest("last_opened_at", Coalesce("completed_at", "last_opened_at")),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        indexes = [
            # The progress feed: `ORDER BY updated_at, id` and its cursor
            # (`updated_at > x`, `updated_since`) walk this index.
            models.Index(fields=["updated_at", "id"], name="curriculum_lp_updated_idx"),
            # The completions feed: completed rows only, `ORDER BY completed_at, id`.
            models.Index(
                fields=["completed_at", "id"],
                condition=Q(completed_at__isnull=False),
                name="curriculum_lp_completed_idx",
            ),
        ]
        constraints = [
            # Two tabs opening the same lesson share one progress row.
            models.UniqueConstraint(
                fields=["learner", "lesson"], name="curriculum_lessonprogress_unique"
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True) | Q(completed_version__isnull=False),
                name="curriculum_lessonprogress_completed_has_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner} on {self.lesson}"


class LearnerEvent(models.Model):
    """The outbox: a fact about a learner that the outside world must hear of.

    Written in the same transaction as the change it reports; `lms/outbox.py`
    turns each row into deliveries (xAPI, LTI grade passback, webhooks) later,
    outside any transaction. Unique on (verb, object_ref): recording the same
    fact twice is a no-op, so retries and double submits emit one event.
    """

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="learner_events"
    )
    verb = models.CharField(max_length=40)
    object_ref = models.CharField(max_length=120)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["verb", "object_ref"], name="curriculum_learnerevent_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.object_ref}"
