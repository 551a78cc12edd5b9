"""Writes to the assessment tables: the item bank, quizzes, attempts, responses.

Each function is the only write path for what it touches, so the invariants
hold whoever calls (the load command, a view, the API): item versions are
immutable, an attempt is graded exactly once, a learner never exceeds the
attempt limit, and an invalid answer changes nothing. Functions are
keyword-only and run in their own transaction (or join the caller's).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from curriculum import content
from curriculum import rows as db_rows
from curriculum.content import ItemDoc
from curriculum.models import Course, LearnerEvent
from quizzes import grading, selectors
from quizzes.models import Attempt, Item, ItemVersion, Option, Quiz, Response, ResponseChoice

# Post-test defaults from issue #5: 20 questions spread over the objectives.
POSTTEST_QUESTION_COUNT = 20


# Every refusal's machine-readable code, with when it is raised. Codes are stable:
# callers (the API's error body, the pages' branches) test `exc.code`, never the
# message, which is for people and may be reworded. lms/api/v1 documents this table.
REFUSAL_CODES = {
    # AttemptNotAllowed: no attempt may start (or resume) now.
    "attempt_limit_reached": "Every attempt the quiz allows has been used.",
    "wait_required": "The waiting time after the last submission has not passed (with available_at).",
    "already_passed": "The post-test is passed; it needs no further attempt.",
    "quiz_empty": "The quiz has no questions yet.",
    "recheck_not_open": "The spaced re-check opens some days after the post-test is passed "
    "(with available_at once it is passed).",
    "nothing_to_recheck": "Every post-test answer was right and sure: the re-check has no questions.",
    "pretest_closed": "The pre-test is closed once the learner has started the post-test "
    "(the pre-test measures what they knew before).",
    # AttemptClosed: the attempt or question is already graded; nothing was changed.
    "attempt_submitted": "The attempt has been submitted; its answers can no longer change.",
    "check_finished": "Every question of the knowledge check has been checked.",
    "question_already_checked": "This knowledge-check question has been checked; its answer is final.",
    # ValidationError codes (HTTP 400): the request names something that cannot work.
    "answer_required": "A knowledge-check question is checked without any option chosen.",
    "not_a_knowledge_check": "Per-question feedback was asked for a quiz that is not a knowledge check.",
}


class QuizRefusal(Exception):
    """A refusal by these services: nothing was changed.

    `code` is stable and machine-readable (a key of REFUSAL_CODES); `message`
    is a sentence for the learner. `available_at` says when waiting is the
    only obstacle.
    """

    code = ""

    def __init__(self, message: str, *, code: str, available_at=None):
        assert code in REFUSAL_CODES, code
        super().__init__(message)
        self.message = message
        self.code = code
        self.available_at = available_at


class AttemptClosed(QuizRefusal):
    """The attempt (or the question) is already graded: nothing was changed (HTTP 409)."""


class AttemptNotAllowed(QuizRefusal):
    """No attempt may start now (limit reached, waiting time, already passed, ...) (HTTP 409)."""

    @property
    def reason(self) -> str:
        return self.message


@dataclass
class ItemBankReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    quizzes_created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed or self.quizzes_created)


# --- the item bank -------------------------------------------------------------------


@transaction.atomic
def item_bank_sync(*, course: Course, items: list[ItemDoc]) -> ItemBankReport:
    """Store a course's validated items; create its default quizzes where missing.

    Call after `curriculum_load` in the same transaction (objectives, lessons,
    myths and interactions must exist). An item whose content hash changed gets
    a new immutable ItemVersion with new Options, so earlier responses keep
    pointing at what was shown; an unchanged item writes nothing; an item no
    longer in the files is deactivated, not deleted. Quiz settings an admin
    changed are never overwritten. A second call with the same items writes
    nothing. Raises ValidationError if an item names a missing objective,
    lesson, myth or interaction (the caller's transaction then rolls back).
    """
    report = ItemBankReport()
    objectives = {o.key: o for o in course.objectives.all()}
    lessons = {lesson.slug: lesson for lesson in course.lessons.select_related("current_version")}
    myths = {m.key: m for m in course.myths.all()}
    interactions = {row.key: row for row in course.interactions.all()}
    existing = {item.key: item for item in course.items.select_related("current_version")}
    seen: set[str] = set()
    for doc in items:
        seen.add(doc.key)
        refs = _item_refs(doc, objectives, lessons, myths, interactions)
        digest = doc.content_hash()
        item = existing.get(doc.key)
        label = f"item {course.slug}/{doc.key}"
        if item is None:
            item = Item.objects.create(course=course, key=doc.key, pools=doc.pools, enemies=doc.enemies)
            _item_version_create(item, doc, digest, refs, number=1)
            report.created.append(label)
            continue
        changed = False
        if item.pools != doc.pools or item.enemies != doc.enemies or not item.is_active:
            item.pools, item.enemies, item.is_active = doc.pools, doc.enemies, True
            item.save(update_fields=["pools", "enemies", "is_active"])
            changed = True
        if item.current_version is None or item.current_version.content_hash != digest:
            number = (item.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            _item_version_create(item, doc, digest, refs, number=number)
            changed = True
        (report.updated if changed else report.unchanged).append(label)
    for key, item in existing.items():
        if key not in seen and item.is_active:
            item.is_active = False
            item.save(update_fields=["is_active"])
            report.removed.append(f"item {course.slug}/{key}")
    _quizzes_ensure(course, items, lessons, report)
    return report


def _item_refs(doc: ItemDoc, objectives, lessons, myths, interactions) -> dict:
    try:
        return {
            "objective": objectives[doc.objective],
            "lesson": lessons[doc.lesson],
            "myth": myths[doc.myth] if doc.myth else None,
            "interaction": interactions[doc.interaction] if doc.interaction else None,
        }
    except KeyError as exc:
        raise ValidationError(f"{doc.path}:{doc.line}: item '{doc.key}' names unknown {exc.args[0]!r}") from None


def _item_version_create(
    item: Item, doc: ItemDoc, digest: str, refs: dict, *, number: int, user=None
) -> ItemVersion:
    version = ItemVersion.objects.create(
        source=doc.source,
        created_by=user,
        item=item,
        number=number,
        type=doc.type,
        stem=doc.stem,
        stem_html=doc.stem_html,
        section=doc.section,
        difficulty=doc.difficulty,
        references=doc.references,
        content_hash=digest,
        source_path=doc.path,
        **refs,
    )
    Option.objects.bulk_create(
        Option(
            version=version,
            position=position,
            text_html=option["text_html"],
            is_correct=option["correct"],
            rationale_html=option["rationale_html"],
        )
        for position, option in enumerate(doc.options, start=1)
    )
    item.current_version = version
    item.save(update_fields=["current_version"])
    return version


@transaction.atomic
def item_revise(*, item: Item, source: str, user=None) -> ItemVersion | None:
    """An author's edit of one item from the admin, with the loader's validation.

    The YAML mapping is checked against the stored course (objectives, lesson
    anchors and references, myths, interaction rows, banned phrases), its
    enemies against the other items (curriculum.content.enemies_problems). A
    changed item gets a new immutable version (statistics restart for it);
    an unchanged one returns None. Raises ValidationError listing every
    problem; nothing is written then. Locks the item row until commit.
    """
    item = Item.objects.select_for_update(of=("self",)).select_related("course", "current_version").get(pk=item.pk)
    course = item.course
    lessons = {
        lesson.slug: lesson.current_version
        for lesson in course.lessons.select_related("current_version")
        if lesson.current_version is not None
    }
    path = (item.current_version.source_path if item.current_version else "") or f"{course.slug}/items"
    doc, problems = content.item_parse_text(
        source,
        path=path,
        objectives=set(course.objectives.filter(is_active=True).values_list("key", flat=True)),
        lessons=lessons,
        myths=set(course.myths.values_list("key", flat=True)),
        interactions=set(course.interactions.filter(is_active=True).values_list("key", flat=True)),
        phrases=content.banned_phrases(settings.CURRICULUM_CONTENT_DIR),
    )
    if doc is not None and doc.key != item.key:
        problems.append(content.Problem(path, 1, f"the key cannot change here ({item.key!r})"))
    if doc is not None:
        problems.extend(content.enemies_problems(_bank_slots(course, doc)))
    errors = [str(p) for p in problems if p.severity == "error"]
    if errors or doc is None:
        raise ValidationError(errors or ["the item could not be read"])
    refs = _item_refs(
        doc,
        {o.key: o for o in course.objectives.all()},
        {lesson.slug: lesson for lesson in course.lessons.all()},
        {m.key: m for m in course.myths.all()},
        {row.key: row for row in course.interactions.all()},
    )
    if item.pools != doc.pools or item.enemies != doc.enemies:
        item.pools, item.enemies = doc.pools, doc.enemies
        item.save(update_fields=["pools", "enemies"])
    digest = doc.content_hash()
    if item.current_version is not None and item.current_version.content_hash == digest:
        return None
    number = (item.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return _item_version_create(item, doc, digest, refs, number=number, user=user)


def _bank_slots(course: Course, doc: ItemDoc) -> list:
    """The course's active items as enemies_problems reads them, with `doc` in place of its stored item."""
    rows = (
        Item.objects.filter(course=course, is_active=True, current_version__isnull=False)
        .exclude(key=doc.key)
        .values_list("key", "pools", "enemies", "current_version__lesson__slug", "current_version__objective__key")
    )
    slots = [
        SimpleNamespace(key=key, pools=pools, enemies=enemies, lesson=lesson, objective=objective, path=doc.path, line=1)
        for key, pools, enemies, lesson, objective in rows
    ]
    return [*slots, doc]


def _quizzes_ensure(course: Course, items: list[ItemDoc], lessons: dict, report: ItemBankReport) -> None:
    """Create the course's default quizzes that do not exist yet (get-or-create by kind and lesson)."""
    pools = {pool for doc in items for pool in doc.pools}
    check_lessons = {doc.lesson for doc in items if "check" in doc.pools}
    wanted = [
        (Quiz.Kind.POSTTEST, None, {
            "title": f"{course.title}: post-test",
            "question_count": POSTTEST_QUESTION_COUNT,
            "review_rule": Quiz.ReviewRule.AFTER_LAST_ATTEMPT,
            "confidence_enabled": True,
        }),
    ]
    # The spaced re-check: one sitting, feedback on every question.
    wanted.append((Quiz.Kind.RECHECK, None, {
        "title": f"{course.title}: spaced re-check",
        "attempt_limit": 1,
        "pass_mark": 0,
        "review_rule": Quiz.ReviewRule.ALWAYS,
    }))
    if "pretest" in pools:
        # Not graded for credit; one sitting, score only, so its items can recur later.
        wanted.append((Quiz.Kind.PRETEST, None, {
            "title": f"{course.title}: pre-test",
            "attempt_limit": 1,
            "review_rule": Quiz.ReviewRule.NEVER,
        }))
    for slug in sorted(check_lessons, key=lambda s: lessons[s].position):
        lesson = lessons[slug]
        wanted.append((Quiz.Kind.CHECK, lesson, {
            "title": f"Knowledge check: {lesson.title}",
            "attempt_limit": None,
            "review_rule": Quiz.ReviewRule.ALWAYS,
        }))
    for kind, lesson, defaults in wanted:
        _, created = Quiz.objects.get_or_create(course=course, kind=kind, lesson=lesson, defaults=defaults)
        if created:
            report.quizzes_created.append(f"quiz {course.slug}/{kind}{'/' + lesson.slug if lesson else ''}")


# --- attempts ---------------------------------------------------------------------


@transaction.atomic
def attempt_start(*, learner, quiz: Quiz) -> Attempt:
    """The learner's open attempt of `quiz`, or a new one if the rules allow.

    Resumes an open attempt (a second tab or a return after an interruption).
    Otherwise checks the attempt limit, the waiting time and a passed post-test,
    draws and shuffles the questions with a per-attempt seed and stores the
    order, and creates one empty Response per question.

    Locks the learner's row until commit: two "Start" requests of one learner
    run one after the other, so the second resumes the first's attempt and the
    limit check never reads a stale count. The unique constraints on
    (learner, quiz, number) and on the open attempt hold even without it.
    A pre-test is closed, even an open attempt of it, once the learner has
    any post-test attempt: its scores then measure what they knew before the
    course, and knowledge gain compares clean data.
    Raises AttemptNotAllowed (its `code` says why). Ten queries for a new
    attempt, whatever its size (eleven for a pre-test).
    """
    get_user_model().objects.select_for_update().filter(pk=learner.pk).values_list("pk").get()
    if quiz.kind == Quiz.Kind.PRETEST and selectors.posttest_started(learner=learner, course_id=quiz.course_id):
        raise AttemptNotAllowed(selectors.PRETEST_CLOSED_MESSAGE, code="pretest_closed")
    rows = list(Attempt.objects.filter(learner=learner, quiz=quiz).order_by("number"))
    for attempt in rows:
        if attempt.submitted_at is None:
            return attempt
    availability = grading.attempt_availability(
        kind=quiz.kind,
        attempt_limit=quiz.attempt_limit,
        wait_minutes=quiz.wait_minutes,
        past=[grading.PastAttempt(a.number, a.submitted_at, a.passed) for a in rows],
        now=timezone.now(),
    )
    if not availability.allowed:
        raise AttemptNotAllowed(availability.reason, code=availability.code, available_at=availability.available_at)
    if quiz.kind == Quiz.Kind.RECHECK:
        pool = _recheck_pool(learner, quiz)
    else:
        pool = _quiz_pool(quiz)
    if not pool:
        raise AttemptNotAllowed("This quiz has no questions yet.", code="quiz_empty")
    seed = secrets.randbits(62)
    layout = grading.layout_build(
        pool, seed=seed, per_objective=quiz.draw_per_objective, total=quiz.question_count
    )
    number = (rows[-1].number if rows else 0) + 1
    try:
        with transaction.atomic():
            attempt = Attempt.objects.create(
                learner=learner,
                quiz=quiz,
                number=number,
                seed=seed,
                layout=layout,
                started_at=timezone.now(),
                question_count=len(layout),
            )
    except IntegrityError:
        # Only without the row lock (e.g. a caller that bypassed it): the other
        # request created the open attempt first, so resume that one.
        return Attempt.objects.get(learner=learner, quiz=quiz, submitted_at__isnull=True)
    Response.objects.bulk_create(
        Response(attempt=attempt, item_version_id=entry["version"], position=position)
        for position, entry in enumerate(layout, start=1)
    )
    return attempt


def _quiz_pool(quiz: Quiz) -> list[grading.PoolItem]:
    """The current versions of the active items in the quiz's pool. Two queries."""
    items = (
        Item.objects.filter(course_id=quiz.course_id, is_active=True, current_version__isnull=False)
        .select_related("current_version")
        .only("key", "pools", "enemies", "current_version__objective_id", "current_version__lesson_id")
    )
    # Pools are a short JSON list; SQLite has no JSON containment lookup, so filter here.
    members = [
        item
        for item in items
        if quiz.kind in item.pools
        and (quiz.lesson_id is None or item.current_version.lesson_id == quiz.lesson_id)
    ]
    versions = [item.current_version for item in members]
    option_ids: dict[int, list[int]] = {}
    for version_id, option_id in (
        Option.objects.filter(version__in=versions).order_by("position").values_list("version_id", "pk")
    ):
        option_ids.setdefault(version_id, []).append(option_id)
    # As declared, on one side or both: the draw bars both ends of a pair.
    version_of = {item.key: item.current_version_id for item in members}
    return [
        grading.PoolItem(
            item.current_version_id,
            item.current_version.objective_id,
            tuple(option_ids.get(item.current_version_id, ())),
            frozenset(version_of[key] for key in item.enemies if key in version_of),
        )
        for item in members
    ]


def _recheck_pool(learner, quiz: Quiz) -> list[grading.PoolItem]:
    """The items of the passed post-test answered wrong or "not sure", once it is open. Three queries."""
    source = selectors.recheck_source_get(learner=learner, course_id=quiz.course_id)
    if source is None:
        raise AttemptNotAllowed("The re-check opens some days after you pass the post-test.", code="recheck_not_open")
    opens_at = source.submitted_at + dt.timedelta(days=source.quiz.recheck_days)
    if timezone.now() < opens_at:
        raise AttemptNotAllowed("The re-check is not open yet.", code="recheck_not_open", available_at=opens_at)
    responses = (
        Response.objects.filter(attempt=source)
        .filter(Q(is_correct=False) | Q(confidence=Response.Confidence.UNSURE))
        .select_related("item_version")
        .only("item_version__objective_id")
    )
    versions = [r.item_version for r in responses]
    if not versions:
        raise AttemptNotAllowed(
            "Nothing to re-check: you answered every post-test question correctly and surely.",
            code="nothing_to_recheck",
        )
    option_ids: dict[int, list[int]] = {}
    for version_id, option_id in (
        Option.objects.filter(version__in=versions).order_by("position").values_list("version_id", "pk")
    ):
        option_ids.setdefault(version_id, []).append(option_id)
    return [grading.PoolItem(v.pk, v.objective_id, tuple(option_ids[v.pk])) for v in versions]


# _attempt_lock's query, written out as attempt_get's is (issue #8); the column
# lists are all that is formatted in.
_LOCK_SQL = """
    SELECT {attempt}, {quiz}
      FROM quizzes_attempt attempt
      JOIN quizzes_quiz quiz ON quiz.id = attempt.quiz_id
     WHERE attempt.id = %s AND attempt.learner_id = %s
""".format(  # noqa: S608  # nosec B608
    attempt=db_rows.columns(Attempt, "attempt"),
    quiz=db_rows.columns(Quiz, "quiz"),
)


def _attempt_lock(attempt_id: int, learner) -> Attempt:
    """Lock the learner's attempt row until commit, and read it with its quiz. One query.

    PostgreSQL locks the row (FOR UPDATE OF the attempt alone: the quiz is only
    read); SQLite has no row locks, and its IMMEDIATE transactions already
    write one at a time. Raises Attempt.DoesNotExist, also for an id no row can
    have (SQLite cannot even bind one beyond 64 bits).
    """
    if not selectors.attempt_id_possible(attempt_id=attempt_id, learner=learner):
        raise Attempt.DoesNotExist("No such attempt.")
    lock = " FOR UPDATE OF attempt" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL + lock, [attempt_id, learner.pk])
        row = cursor.fetchone()
    if row is None:
        raise Attempt.DoesNotExist("No such attempt.")
    readers = [db_rows.reader(Attempt), db_rows.reader(Quiz)]
    attempt, quiz = (read(part) for read, part in zip(readers, db_rows.split(row, readers), strict=True))
    attempt.quiz = quiz
    return attempt


# The attempt's responses as a submission needs them: each row's own columns, its
# item's type and one option chosen so far (NULL for none): one row per response
# and chosen option, in layout order. Written out as the attempt page's reads are:
# the ORM took longer to build a submission's queries than the database to run
# them (issue #8). Nothing but the column list is formatted in.
_SHEET_SQL = """
    SELECT {response}, version.type, choice.option_id
      FROM quizzes_response response
      JOIN quizzes_itemversion version ON version.id = response.item_version_id
      LEFT JOIN quizzes_responsechoice choice ON choice.response_id = response.id
     WHERE response.attempt_id = %s
     ORDER BY response.position, choice.option_id
""".format(  # noqa: S608  # nosec B608
    response=db_rows.columns(Response, "response"),
)


@dataclass
class _Sheet:
    """An attempt's responses (layout order) and, per item version, its type and the options
    chosen: as stored, then as `_answers_store` changed them in memory."""

    responses: list[Response]
    types: dict[int, str]
    chosen: dict[int, frozenset[int]]


def _sheet_read(attempt: Attempt) -> _Sheet:
    """One query."""
    read = db_rows.reader(Response)
    with connection.cursor() as cursor:
        cursor.execute(_SHEET_SQL, [attempt.pk])
        rows = cursor.fetchall()
    responses: list[Response] = []
    types: dict[int, str] = {}
    chosen: dict[int, set[int]] = {}
    for row in rows:
        values, (item_type, option_id) = row[: read.width], row[read.width:]
        if not responses or responses[-1].pk != values[0]:  # the pk is the first column
            responses.append(read(values))
            types[responses[-1].item_version_id] = item_type
            chosen[responses[-1].item_version_id] = set()
        if option_id is not None:
            chosen[responses[-1].item_version_id].add(option_id)
    return _Sheet(responses, types, {v: frozenset(ids) for v, ids in chosen.items()})


def _answers_store(attempt: Attempt, answers: list[grading.Answer], now) -> tuple[_Sheet, list[Response]]:
    """Validate, then write the answers' chosen options; nothing is written if any answer is invalid.

    Returns the sheet, with the answered responses' confidence and answer
    time set in memory, and those responses, whose rows the caller writes
    with `_responses_update` (with their verdicts, when grading). Three
    queries: the sheet, delete and insert the chosen options.
    """
    sheet = _sheet_read(attempt)
    single = {v for v, item_type in sheet.types.items() if item_type != "multiple"}
    problems = grading.answers_check(attempt.layout, answers, single_choice=single)
    if problems:
        raise ValidationError(problems)
    if not attempt.quiz.confidence_enabled:
        answers = [grading.Answer(a.version_id, a.option_ids) for a in answers]
    by_version = {r.item_version_id: r for r in sheet.responses}
    touched = [by_version[a.version_id] for a in answers]
    if not touched:
        return sheet, touched
    new_choices = [
        (by_version[a.version_id].pk, option_id) for a in answers for option_id in sorted(a.option_ids)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_CHOICES_DELETE_SQL.format(ids=_marks(len(touched))), [r.pk for r in touched])
        if new_choices:
            columns = [ResponseChoice._meta.get_field(name) for name in ("response", "option")]
            _rows_insert(cursor, ResponseChoice, columns, new_choices)
    for answer in answers:
        response = by_version[answer.version_id]
        response.confidence = answer.confidence
        response.answered_at = now if answer.option_ids else None
        sheet.chosen[answer.version_id] = answer.option_ids
    return sheet, touched


def _marks(n: int) -> str:
    """`%s, %s, ...`: n parameter placeholders."""
    return ", ".join(["%s"] * n)


# The written-out writes of a submission. Only names and placeholders are
# formatted in (`_marks`, quoted column names); every value is a parameter.
_CHOICES_DELETE_SQL = "DELETE FROM quizzes_responsechoice WHERE response_id IN ({ids})"
_INSERT_SQL = "INSERT INTO {table} ({columns}) VALUES {rows}{conflict}"
_RESPONSES_UPDATE_SQL = "UPDATE quizzes_response SET {sets} WHERE id IN ({ids})"
_ATTEMPT_UPDATE_SQL = "UPDATE quizzes_attempt SET {sets} WHERE id = %s"


def _rows_insert(cursor, model, fields, rows: list[tuple], *, conflict: str = "") -> None:
    """INSERT `rows` (value tuples in `fields` order, prepared for the database) into `model`'s
    table: one statement. `conflict`: e.g. " ON CONFLICT DO NOTHING", which both databases take."""
    quote = connection.ops.quote_name
    row = f"({_marks(len(fields))})"
    sql = _INSERT_SQL.format(
        table=quote(model._meta.db_table),
        columns=", ".join(quote(f.column) for f in fields),
        rows=", ".join([row] * len(rows)),
        conflict=conflict,
    )
    cursor.execute(sql, [value for r in rows for value in r])


# What an answer changes in its response row; grading adds `is_correct`.
_ANSWER_FIELDS = ("confidence", "answered_at")


def _responses_update(responses: list[Response], names: tuple[str, ...]) -> None:
    """Write the fields `names` of `responses` as they are in memory: one UPDATE.

    Each field is a CASE with one WHEN per distinct value (a few: two
    confidences and blank, answered or not, right or wrong), whatever the
    number of rows; not bulk_update's CASE per row and field, which took
    about 40 % of a submission's time (issue #8). Values go through each
    field's own preparation for the database, as the ORM's would.
    """
    if not responses:
        return
    quote = connection.ops.quote_name
    fields = [Response._meta.get_field(name) for name in names]
    sets: list[str] = []
    params: list = []
    for model_field in fields:
        groups: dict = {}
        for response in responses:
            groups.setdefault(getattr(response, model_field.attname), []).append(response.pk)
        if len(groups) == 1:
            sets.append(f"{quote(model_field.column)} = %s")
            params.append(model_field.get_db_prep_save(next(iter(groups)), connection))
            continue
        whens = []
        for value, pks in groups.items():
            whens.append(f"WHEN id IN ({_marks(len(pks))}) THEN %s")
            params.extend([*pks, model_field.get_db_prep_save(value, connection)])
        sets.append(f"{quote(model_field.column)} = CASE {' '.join(whens)} END")
    params.extend(r.pk for r in responses)
    sql = _RESPONSES_UPDATE_SQL.format(sets=", ".join(sets), ids=_marks(len(responses)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _attempt_update(attempt: Attempt, names: tuple[str, ...]) -> None:
    """Write the fields `names` of the attempt as they are in memory: save(update_fields=...)'s
    UPDATE, written out (the ORM's building of it cost more than running it; issue #8)."""
    quote = connection.ops.quote_name
    fields = [Attempt._meta.get_field(name) for name in names]
    sql = _ATTEMPT_UPDATE_SQL.format(sets=", ".join(f"{quote(f.column)} = %s" for f in fields))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(f.get_db_prep_save(getattr(attempt, f.attname), connection) for f in fields), attempt.pk])


def _pretest_open_check(attempt: Attempt, learner) -> None:
    """An open pre-test attempt is closed once the learner has started the post-test, as
    `attempt_start` closes the pre-test. Raises AttemptClosed (code pretest_closed)."""
    if selectors.pretest_attempt_closed(attempt=attempt, learner=learner):
        raise AttemptClosed(selectors.PRETEST_CLOSED_MESSAGE, code="pretest_closed")


@transaction.atomic
def attempt_save_answers(*, attempt_id: int, learner, answers: list[grading.Answer]) -> Attempt:
    """Save answers without grading ("Save and finish later").

    Locks the attempt row until commit, so a save racing a submit either lands
    before grading or fails as closed. Raises Attempt.DoesNotExist,
    AttemptClosed (already submitted, or a pre-test once the post-test has
    started) or ValidationError (an option of another
    question, a question not in the attempt); then nothing is written.
    """
    attempt = _attempt_lock(attempt_id, learner)
    if not attempt.is_open:
        raise AttemptClosed(
            "This attempt has already been submitted; it can no longer change.", code="attempt_submitted"
        )
    _pretest_open_check(attempt, learner)
    now = timezone.now()
    _, touched = _answers_store(attempt, answers, now)
    _responses_update(touched, _ANSWER_FIELDS)
    attempt.saved_at = now
    _attempt_update(attempt, ("saved_at",))
    return attempt


@transaction.atomic
def attempt_submit(
    *,
    attempt_id: int,
    learner,
    answers: list[grading.Answer] | None = None,
    answers_from: Callable[[Attempt], list[grading.Answer]] | None = None,
) -> Attempt:
    """Store the final answers and grade the attempt exactly once.

    A repeated submit (double click, resent form, second tab, concurrent
    request) returns the stored result and changes nothing. Locks the attempt
    row until commit: the second of two concurrent submits waits, then sees
    `submitted_at` set. Records a "passed" or "failed" outbox event for a
    post-test in the same transaction. Raises Attempt.DoesNotExist,
    AttemptClosed (an open pre-test once the post-test has started) or
    ValidationError (nothing written). A constant number of queries.

    `answers_from`, in place of `answers`, reads them from the attempt as
    locked (a web form's fields make sense only against the attempt's
    questions), so the caller need not read the attempt first (issue #8); its
    ValidationError, like any other, comes before the first write.
    """
    attempt = _attempt_lock(attempt_id, learner)
    if answers_from is not None:
        answers = answers_from(attempt)
    if not attempt.is_open:
        return attempt  # double click or client retry: the first submit won
    _pretest_open_check(attempt, learner)
    now = timezone.now()
    sheet, _ = _answers_store(attempt, answers or [], now)
    _attempt_grade(attempt, sheet, now, learner)
    return attempt


def _attempt_grade(attempt: Attempt, sheet: _Sheet, now, learner) -> None:
    """Grade every question, write the responses (answers and verdicts, one UPDATE) and the
    attempt's result, and record the outbox events. Four queries (none for keys this process has
    graded before)."""
    key = selectors.answer_keys_get(version_ids=[entry["version"] for entry in attempt.layout])
    result = grading.grade(key, sheet.chosen, pass_mark=attempt.quiz.pass_mark)
    verdict = {r.version_id: r.is_correct for r in result.items}
    for response in sheet.responses:
        response.is_correct = verdict[response.item_version_id]
    _responses_update(sheet.responses, (*_ANSWER_FIELDS, "is_correct"))
    attempt.submitted_at = now
    attempt.correct_count = result.correct
    attempt.score = result.score
    attempt.passed = result.passed
    _attempt_update(attempt, ("submitted_at", "correct_count", "score", "passed"))
    outcome: tuple[LearnerEvent, ...] = ()
    if attempt.quiz.kind == Quiz.Kind.POSTTEST:
        # What learner_event_record would write; an attempt is graded once, so it is new.
        outcome = (LearnerEvent(
            learner_id=learner.pk,
            verb="passed" if result.passed else "failed",
            object_ref=f"{Attempt._meta.label_lower}:{attempt.pk}",
            data={"score": str(result.score), "number": attempt.number, "quiz": attempt.quiz_id},
            occurred_at=now,
        ),)
    _answered_events_record(attempt, sheet.responses, now, first=outcome)


@transaction.atomic
def attempt_answer_check(*, attempt_id: int, learner, answer: grading.Answer) -> Attempt:
    """Knowledge checks: grade one question at once, for immediate feedback.

    The question's answer is final once checked (the feedback shows the key),
    so a second check of it raises AttemptClosed and changes nothing. When the
    last question is checked, the attempt is graded and closed. Locks the
    attempt row until commit. Raises Attempt.DoesNotExist, AttemptClosed or
    ValidationError (also for a pre- or post-test, whose key must stay hidden).
    """
    attempt = _attempt_lock(attempt_id, learner)
    if attempt.quiz.kind != Quiz.Kind.CHECK:
        raise ValidationError("Only knowledge checks give feedback per question.", code="not_a_knowledge_check")
    if not attempt.is_open:
        raise AttemptClosed("This knowledge check is finished.", code="check_finished")
    graded = Response.objects.filter(attempt=attempt, item_version_id=answer.version_id, is_correct__isnull=False)
    if graded.exists():
        raise AttemptClosed("This question has already been checked.", code="question_already_checked")
    if not answer.option_ids:
        raise ValidationError("Choose an answer before checking it.", code="answer_required")
    now = timezone.now()
    sheet, (response,) = _answers_store(attempt, [answer], now)
    (key,) = selectors.answer_keys_get(version_ids=[answer.version_id])
    response.is_correct = grading.item_is_correct(key, answer.option_ids)
    if all(r.is_correct is not None for r in sheet.responses):
        _attempt_grade(attempt, sheet, now, learner)  # writes this response with the others
    else:
        _responses_update([response], (*_ANSWER_FIELDS, "is_correct"))
        _answered_events_record(attempt, [response], now)
    return attempt


def _answered_events_record(
    attempt: Attempt, responses: list[Response], now, *, first: tuple[LearnerEvent, ...] = ()
) -> None:
    """One "answered" outbox event per graded, answered question (xAPI's per-question statement).

    Runs in the grading transaction, so the events commit with the verdicts.
    One query however many questions: a bulk insert that skips rows already
    recorded (LearnerEvent is unique on verb and object), so a knowledge
    check's questions, each recorded when checked, are not recorded again
    when the last check grades the attempt. A question left blank was not
    answered and gives no event. No webhook subscribes to "answered". `first`:
    events to insert before these in the same statement (the post-test's
    "passed" or "failed"). Every event is stamped `now`, the grading's time.
    """
    # The rows learner_event_record would write, one by one; curriculum.services
    # has no bulk form, and a query per question would make grading O(n).
    events = [
        *first,
        *(
            LearnerEvent(
                learner_id=attempt.learner_id,
                verb="answered",
                object_ref=f"{Response._meta.label_lower}:{r.pk}",
                data={"attempt": attempt.pk, "item_version": r.item_version_id, "correct": r.is_correct},
                occurred_at=now,
            )
            for r in responses
            if r.answered_at is not None and r.is_correct is not None
        ),
    ]
    if not events:
        return
    # What bulk_create(ignore_conflicts=True) runs, written out: its building took a third of
    # grading's time (issue #8). Values are prepared by each field as the ORM prepares them.
    fields = [LearnerEvent._meta.get_field(name) for name in ("learner", "verb", "object_ref", "data", "occurred_at")]
    rows = [tuple(f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields) for event in events]
    with connection.cursor() as cursor:
        _rows_insert(cursor, LearnerEvent, fields, rows, conflict=" ON CONFLICT DO NOTHING")
