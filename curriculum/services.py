"""Writes to the curriculum: loading content, author edits, lesson progress.

Every function here is the only write path for its tables, so their
invariants (immutable versions, one progress row per learner and lesson, one
outbox event per fact) hold whoever calls: a command, the admin or a view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from curriculum import content
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

COURSE_COPY_FIELDS = [
    "title", "summary", "description_html", "estimated_minutes", "target_audience",
    "release_date", "review_date", "expiry_date", "review_cycle_months", "faculty",
    "disclosure_mitigation", "commercial_support", "accreditation_notice",
    "hardware_software", "privacy",
]


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)

    def merge(self, other: LoadReport) -> None:
        for name in ("created", "updated", "unchanged", "removed"):
            getattr(self, name).extend(getattr(other, name))


class ContentInvalid(Exception):
    """The content has errors; nothing was written."""

    def __init__(self, problems: list[content.Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def learner_event_record(*, learner, verb: str, obj, data: dict | None = None) -> LearnerEvent:
    """Record that the outside world must hear of `verb` on `obj` (an outbox row).

    Call it inside the reported change's transaction, so both commit together;
    `lms/outbox.py` builds and sends the payload later. Idempotent: the same
    (verb, object) is recorded once, so a retried request emits one event.
    """
    ref = f"{obj._meta.label_lower}:{obj.pk}"
    event, _ = LearnerEvent.objects.get_or_create(
        verb=verb,
        object_ref=ref,
        defaults={"learner": learner, "data": data or {}, "occurred_at": timezone.now()},
    )
    return event


Progress = Callable[[str], None]


@transaction.atomic
def curriculum_load(*, bundles: list[content.CourseBundle], progress: Progress | None = None) -> LoadReport:
    """Store validated course bundles, all or nothing.

    Raises ContentInvalid (writing nothing) if any bundle has errors. A lesson
    whose rendered content changed gets a new immutable LessonVersion; an
    unchanged one is skipped; a lesson whose file is gone is unpublished, not
    deleted, so learners' progress and records stay attached to it.
    """
    errors = [p for bundle in bundles for p in bundle.errors]
    if errors:
        raise ContentInvalid(errors)
    report = LoadReport()
    for bundle in bundles:
        report.merge(_course_sync(bundle, progress or (lambda _msg: None)))
    return report


def _course_sync(bundle: content.CourseBundle, progress: Progress) -> LoadReport:
    report = LoadReport()
    data = bundle.course
    slug = data["slug"]
    values = {name: data[name] for name in COURSE_COPY_FIELDS}
    # Lock the course row: two loads of one course run one after the other.
    course = Course.objects.select_for_update().filter(slug=slug).first()
    if course is None:
        course = Course.objects.create(slug=slug, **values)
        report.created.append(f"course {slug}")
    elif any(getattr(course, k) != v for k, v in values.items()) or not course.is_published:
        for name, value in values.items():
            setattr(course, name, value)
        course.is_published = True
        course.save()
        report.updated.append(f"course {slug}")
    else:
        report.unchanged.append(f"course {slug}")
    progress(f"course {slug}: {_last_state(report)}")

    existing = {lesson.slug: lesson for lesson in course.lessons.select_related("current_version")}
    total = len(bundle.lessons)
    for index, doc in enumerate(sorted(bundle.lessons, key=lambda d: d.order), start=1):
        state = _lesson_sync(course, existing.get(doc.slug), doc, report)
        progress(f"[{index}/{total}] {doc.path}: {state}")
    for slug_gone, lesson in existing.items():
        if slug_gone not in {d.slug for d in bundle.lessons} and lesson.is_published:
            lesson.is_published = False
            lesson.save(update_fields=["is_published"])
            report.removed.append(f"lesson {course.slug}/{slug_gone}")
            progress(f"lesson {slug_gone}: removed (unpublished; learner records kept)")

    lessons = {lesson.slug: lesson for lesson in course.lessons.all()}
    _objectives_sync(course, bundle, lessons, report)
    _interactions_sync(course, bundle, report)
    _myths_sync(course, bundle, lessons, report)
    return report


def _last_state(report: LoadReport) -> str:
    for name in ("created", "updated", "unchanged", "removed"):
        if getattr(report, name):
            return name
    return "unchanged"


def _lesson_sync(course: Course, lesson: Lesson | None, doc: content.LessonDoc, report: LoadReport, user=None) -> str:
    digest = doc.content_hash()
    label = f"lesson {course.slug}/{doc.slug}"
    if lesson is None:
        lesson = Lesson.objects.create(course=course, slug=doc.slug, position=doc.order)
        _version_create(lesson, doc, digest, number=1, user=user)
        report.created.append(label)
        return "created (version 1)"
    changed_meta = lesson.position != doc.order or not lesson.is_published
    if changed_meta:
        lesson.position = doc.order
        lesson.is_published = True
        lesson.save(update_fields=["position", "is_published"])
    if lesson.current_version is not None and lesson.current_version.content_hash == digest:
        if changed_meta:
            report.updated.append(label)
            return "updated (order or publication)"
        report.unchanged.append(label)
        return "unchanged"
    number = (lesson.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    _version_create(lesson, doc, digest, number=number, user=user)
    report.updated.append(label)
    return f"updated (version {number})"


def _version_create(lesson: Lesson, doc: content.LessonDoc, digest: str, *, number: int, user=None) -> LessonVersion:
    version = LessonVersion.objects.create(
        lesson=lesson,
        number=number,
        title=doc.title,
        estimated_minutes=doc.estimated_minutes,
        last_reviewed=doc.last_reviewed,
        objectives=doc.objectives,
        references=doc.references,
        source=doc.source,
        body_html=doc.body_html,
        toc_html=doc.toc_html,
        anchors=doc.anchors,
        content_hash=digest,
        source_path=doc.path,
        created_by=user,
    )
    lesson.current_version = version
    lesson.save(update_fields=["current_version"])
    return version


def _objectives_sync(course, bundle, lessons, report) -> None:
    existing = {o.key: o for o in course.objectives.all()}
    seen = set()
    for doc in bundle.lessons:
        for position, data in enumerate(doc.objectives, start=1):
            seen.add(data["key"])
            wanted = {"lesson": lessons[doc.slug], "text": data["text"], "position": position, "is_active": True}
            obj = existing.get(data["key"])
            if obj is None:
                Objective.objects.create(course=course, key=data["key"], **wanted)
            elif any(getattr(obj, k) != v for k, v in wanted.items()):
                for name, value in wanted.items():
                    setattr(obj, name, value)
                obj.save()
    for key, obj in existing.items():
        if key not in seen and obj.is_active:
            obj.is_active = False
            obj.save(update_fields=["is_active"])


def _interactions_sync(course, bundle, report) -> None:
    existing = {row.key: row for row in course.interactions.all()}
    seen = set()
    for position, data in enumerate(bundle.interactions, start=1):
        seen.add(data["id"])
        wanted = {
            "position": position,
            "drug": data["drug"],
            "drug_class": data["drug_class"],
            "mechanism": data["mechanism"],
            "effect": data["effect"],
            "severity": data["severity"],
            "evidence": data["evidence"],
            "management": data["management"],
            "references": data["references"],
            "is_active": True,
        }
        row = existing.get(data["id"])
        if row is None:
            Interaction.objects.create(course=course, key=data["id"], **wanted)
            report.created.append(f"interaction {data['id']}")
        elif any(getattr(row, k) != v for k, v in wanted.items()):
            for name, value in wanted.items():
                setattr(row, name, value)
            row.save()
            report.updated.append(f"interaction {data['id']}")
    for key, row in existing.items():
        if key not in seen and row.is_active:
            row.is_active = False
            row.save(update_fields=["is_active"])
            report.removed.append(f"interaction {key}")


def _myths_sync(course, bundle, lessons, report) -> None:
    existing = {m.key: m for m in course.myths.all()}
    for data in bundle.myths:
        wanted = {"claim": data["claim"], "verdict": data["verdict"], "lesson": lessons[data["lesson"]]}
        myth = existing.get(data["id"])
        if myth is None:
            Myth.objects.create(course=course, key=data["id"], **wanted)
        elif any(getattr(myth, k) != v for k, v in wanted.items()):
            for name, value in wanted.items():
                setattr(myth, name, value)
            myth.save()


@transaction.atomic
def lesson_revise(*, lesson: Lesson, source: str, user=None) -> LessonVersion | None:
    """An author's edit from the admin: same validation and rendering as a load.

    Returns the new version, or None when the rendered content is unchanged.
    Raises ValidationError listing every problem; nothing is written then.
    """
    course = Course.objects.select_for_update().get(pk=lesson.course_id)
    lesson = Lesson.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=lesson.pk)
    problems: list[content.Problem] = []
    path = lesson.current_version.source_path if lesson.current_version else f"{course.slug}/{lesson.slug}"
    doc = content.lesson_parse_text(source, path or "lesson", problems)
    if doc is not None:
        if doc.slug != lesson.slug:
            problems.append(content.Problem(path, 1, f"the slug cannot change here ({lesson.slug!r}); add a new lesson file instead"))
        rows = [
            {
                "drug": r.drug, "mechanism": r.mechanism, "effect": r.effect,
                "severity": r.severity, "evidence": r.evidence, "management": r.management,
            }
            for r in course.interactions.filter(is_active=True)
        ]
        content.lesson_render(
            doc, urls=content.UrlScheme(course.slug), course_dir=None, interactions=rows, problems=problems
        )
        anchors = {
            other.slug: (other.current_version.anchors if other.current_version else [])
            for other in course.lessons.select_related("current_version")
        }
        anchors[doc.slug] = doc.anchors
        content.lesson_links_check(doc, anchors, problems)
        taken = set(
            Objective.objects.filter(course=course).exclude(lesson=lesson).values_list("key", flat=True)
        )
        for objective in doc.objectives:
            if objective["key"] in taken:
                problems.append(content.Problem(path, 1, f"objective id {objective['key']} belongs to another lesson"))
    errors = [p for p in problems if p.severity == "error"]
    if errors or doc is None:
        raise ValidationError([str(p) for p in errors] or ["the lesson could not be read"])
    doc.order = lesson.position
    report = LoadReport()
    _lesson_sync(course, lesson, doc, report, user=user)
    if not report.updated:
        return None
    # Only this lesson's objectives are touched; others keep their rows.
    existing = {o.key: o for o in course.objectives.filter(lesson=lesson)}
    for position, data in enumerate(doc.objectives, start=1):
        obj = existing.pop(data["key"], None)
        if obj is None:
            Objective.objects.create(course=course, lesson=lesson, key=data["key"], text=data["text"], position=position)
        else:
            obj.text, obj.position, obj.is_active = data["text"], position, True
            obj.save()
    for obj in existing.values():
        obj.is_active = False
        obj.save(update_fields=["is_active"])
    return Lesson.objects.select_related("current_version").get(pk=lesson.pk).current_version


# --- lesson progress ---------------------------------------------------------------

_SIGNER_SALT = "curriculum.lesson-served"


def lesson_served_token(*, lesson: Lesson) -> str:
    """A signed stamp of when the page was served, carried by the completion form."""
    return signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(lesson.pk))


# Reopening a lesson within this window is the same visit: no write, so a
# learner scrolling back and forth costs the database nothing.
VISIT_WINDOW = dt.timedelta(minutes=10)


def lesson_progress_open(*, learner, lesson, current=None) -> None:
    """Record a visit. Two tabs opening together share one row (unique constraint).

    `lesson` is a Lesson or anything with its `pk` (the lesson page's row).
    Pass the learner's row (or the page's `mine`) if the caller has read it:
    a visit within VISIT_WINDOW of the last one then writes nothing.
    Otherwise one UPDATE (or, on the first visit, an INSERT and the
    'experienced' event).
    """
    now = timezone.now()
    if current is not None and now - current.last_opened_at < VISIT_WINDOW:
        return
    updated = LessonProgress.objects.filter(learner=learner, lesson_id=lesson.pk).update(
        last_opened_at=now, visits=F("visits") + 1
    )
    if updated:
        return
    try:
        with transaction.atomic():
            progress = LessonProgress.objects.create(
                learner=learner, lesson_id=lesson.pk, first_opened_at=now, last_opened_at=now, visits=1
            )
            learner_event_record(learner=learner, verb="experienced", obj=progress)
    except IntegrityError:
        # The other tab created it first: count this visit on its row.
        LessonProgress.objects.filter(learner=learner, lesson_id=lesson.pk).update(
            last_opened_at=now, visits=F("visits") + 1
        )


@transaction.atomic
def lesson_progress_complete(*, learner, lesson: Lesson, served_token: str | None, max_minutes: int) -> LessonProgress:
    """Mark a lesson complete, once. A repeated submit changes nothing more.

    Time on page is the time since the signed `served_token` was issued,
    capped at `max_minutes`; a missing or forged token counts no time.
    Locks the learner's progress row until commit.
    """
    now = timezone.now()
    seconds = _served_seconds(served_token, lesson, now) if served_token else 0
    seconds = max(0, min(seconds, max_minutes * 60))
    progress = LessonProgress.objects.select_for_update().filter(learner=learner, lesson=lesson).first()
    if progress is None:
        progress = LessonProgress.objects.create(
            learner=learner, lesson=lesson, first_opened_at=now, last_opened_at=now, visits=1
        )
        learner_event_record(learner=learner, verb="experienced", obj=progress)
    if progress.completed_at is not None:
        return progress  # already complete: a double submit adds nothing
    progress.completed_at = now
    progress.completed_version_id = lesson.current_version_id
    progress.seconds_on_page += seconds
    progress.save(update_fields=["completed_at", "completed_version", "seconds_on_page"])
    learner_event_record(
        learner=learner,
        verb="completed",
        obj=progress,
        data={"lesson_version": lesson.current_version_id, "seconds": progress.seconds_on_page},
    )
    return progress


def _served_seconds(token: str, lesson: Lesson, now) -> int:
    signer = signing.TimestampSigner(salt=_SIGNER_SALT)
    try:
        value = signer.unsign(token, max_age=dt.timedelta(days=2))
    except signing.BadSignature:
        return 0
    if value != str(lesson.pk):
        return 0
    issued = signing.b62_decode(token.rsplit(signer.sep, 2)[1])
    return int(now.timestamp()) - issued
