"""Reads for the quiz pages, each with a fixed query count.

The open-attempt reader (`attempt_questions_get`) never loads the answer key:
it reads option ids and texts only, so no template or serializer can leak
`is_correct` or a rationale before grading. Correctness is read by
`attempt_review_get` alone, for submitted attempts, behind the review rules,
and by `attempt_questions_get` for knowledge-check questions already checked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Avg,
    Case,
    Count,
    ExpressionWrapper,
    FloatField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from curriculum import rows as db_rows
from curriculum import selectors as curriculum_selectors
from curriculum.models import Course, Lesson, LessonVersion, Myth
from quizzes import analysis, grading
from quizzes.models import Attempt, ItemVersion, Option, Quiz, Response, ResponseChoice


@dataclass
class OptionView:
    id: int
    text_html: str
    chosen: bool = False
    # Filled only for review or a checked knowledge-check question:
    is_correct: bool | None = None
    rationale_html: str = ""


@dataclass
class QuestionView:
    position: int
    version_id: int
    type: str
    stem_html: str
    options: list[OptionView]
    confidence: str = ""
    is_correct: bool | None = None  # None while open (and always on an open pre/post-test)
    references: list[dict] = field(default_factory=list)
    lesson_slug: str = ""
    section: str = ""
    interaction_key: str = ""  # the interaction-table row an interaction item is built on

    @property
    def is_multiple(self) -> bool:
        return self.type == "multiple"

    @property
    def answered(self) -> bool:
        return any(option.chosen for option in self.options)


def quiz_get(*, course_slug: str, kind: str, lesson_slug: str | None = None) -> Quiz:
    """A published course's quiz of one kind (a lesson's knowledge check if lesson_slug).

    One query. Raises Quiz.DoesNotExist.
    """
    qs = Quiz.objects.select_related("course", "lesson__current_version").filter(
        course__slug=course_slug, course__is_published=True, kind=kind
    )
    if lesson_slug is None:
        return qs.get(lesson__isnull=True)
    return qs.get(lesson__slug=lesson_slug)


def quiz_attempts_list(*, quiz: Quiz, learner) -> list[Attempt]:
    """The learner's attempts of a quiz, oldest first, without layouts. One query."""
    return list(
        Attempt.objects.filter(quiz=quiz, learner=learner).defer("layout").order_by("number")
    )


PRETEST_CLOSED_MESSAGE = "The pre-test is closed: you have started the post-test."


def posttest_started(*, learner, course_id: int) -> bool:
    """Whether the learner has any attempt of the course's post-test (open or submitted). One query."""
    return Attempt.objects.filter(learner=learner, quiz__course_id=course_id, quiz__kind=Quiz.Kind.POSTTEST).exists()


def pretest_attempt_closed(*, attempt: Attempt, learner) -> bool:
    """Whether `attempt` is a pre-test attempt that the learner's post-test has closed (open or
    not): a pre-test score then still measures what they knew before the course. One query for a
    pre-test, none otherwise."""
    return attempt.quiz.kind == Quiz.Kind.PRETEST and posttest_started(learner=learner, course_id=attempt.quiz.course_id)


def quiz_availability(*, quiz: Quiz, attempts: list[Attempt], learner) -> grading.Availability:
    """Whether the learner may start (or resume) an attempt now, from read attempts.

    The same rules as quizzes.services.attempt_start, with the same codes.
    No query, except one for a pre-test (closed once the post-test has
    started) or a spaced re-check (it opens after the post-test is passed).
    """
    if quiz.kind == Quiz.Kind.PRETEST and posttest_started(learner=learner, course_id=quiz.course_id):
        return grading.Availability(False, PRETEST_CLOSED_MESSAGE, code="pretest_closed")
    if any(a.submitted_at is None for a in attempts):
        return grading.Availability(True)  # an open attempt can always be resumed
    now = timezone.now()
    availability = grading.attempt_availability(
        kind=quiz.kind,
        attempt_limit=quiz.attempt_limit,
        wait_minutes=quiz.wait_minutes,
        past=[grading.PastAttempt(a.number, a.submitted_at, a.passed) for a in attempts],
        now=now,
    )
    if availability.allowed and quiz.kind == Quiz.Kind.RECHECK:
        source = recheck_source_get(learner=learner, course_id=quiz.course_id)
        if source is None:
            return grading.Availability(
                False, "The re-check opens some days after you pass the post-test.", code="recheck_not_open"
            )
        opens_at = source.submitted_at + dt.timedelta(days=source.quiz.recheck_days)
        if now < opens_at:
            return grading.Availability(False, "The re-check is not open yet.", opens_at, code="recheck_not_open")
    return availability


def recheck_source_get(*, learner, course_id: int) -> Attempt | None:
    """The learner's passed post-test attempt of a course, which a re-check draws on. One query."""
    return (
        Attempt.objects.filter(
            learner=learner, quiz__course_id=course_id, quiz__kind=Quiz.Kind.POSTTEST, passed=True
        )
        .select_related("quiz")
        .defer("layout")
        .order_by("submitted_at")
        .first()
    )


# attempt_get's query, written out: every attempt page, submission and check
# reads it, and the ORM spent about 2.6 ms of Python building its chain of
# joins (two of them nullable, with deferred columns) around a one-row lookup.
# The lesson version's page bodies are left out (deferred), as before.
_ATTEMPT_VERSION_DEFERRED = ("source", "body_html", "toc_html")
# Formatted once, at import, with column names from the models; values are parameters.
_ATTEMPT_SQL = """
    SELECT {attempt}, {quiz}, {course}, {lesson}, {version}
      FROM quizzes_attempt attempt
      JOIN quizzes_quiz quiz ON quiz.id = attempt.quiz_id
      JOIN curriculum_course course ON course.id = quiz.course_id
      LEFT JOIN curriculum_lesson lesson ON lesson.id = quiz.lesson_id
      LEFT JOIN curriculum_lessonversion version ON version.id = lesson.current_version_id
     WHERE attempt.id = %s AND attempt.learner_id = %s
""".format(  # noqa: S608  # nosec B608
    attempt=db_rows.columns(Attempt, "attempt"),
    quiz=db_rows.columns(Quiz, "quiz"),
    course=db_rows.columns(Course, "course"),
    lesson=db_rows.columns(Lesson, "lesson"),
    version=db_rows.columns(LessonVersion, "version", exclude=_ATTEMPT_VERSION_DEFERRED),
)


def attempt_id_possible(*, attempt_id: int, learner) -> bool:
    """Whether a signed-in learner's attempt could have this id: False for an id beyond the
    column's range, which no row can have and SQLite cannot even bind."""
    return learner.pk is not None and db_rows.pk_possible(Attempt, attempt_id)


def attempt_get(*, attempt_id: int, learner) -> Attempt:
    """The learner's attempt with its quiz, course and lesson title. One query. Raises Attempt.DoesNotExist."""
    if not attempt_id_possible(attempt_id=attempt_id, learner=learner):
        raise Attempt.DoesNotExist("No such attempt.")
    readers = [
        db_rows.reader(Attempt), db_rows.reader(Quiz), db_rows.reader(Course), db_rows.reader(Lesson),
        db_rows.reader(LessonVersion, exclude=_ATTEMPT_VERSION_DEFERRED),
    ]
    parts = db_rows.one(Attempt, _ATTEMPT_SQL, [attempt_id, learner.pk], readers)
    attempt, quiz, course = (reader(part) for reader, part in zip(readers[:3], parts[:3], strict=True))
    quiz.course = course
    if quiz.lesson_id is not None:
        lesson = readers[3](parts[3])
        if lesson.current_version_id is not None:
            lesson.current_version = readers[4](parts[4])
        quiz.lesson = lesson
    else:
        quiz.lesson = None
    attempt.quiz = quiz
    return attempt


# Per-process cache of what an open attempt shows of an item version: its type, its stem and
# its options' ids and texts. Never `is_correct` or a rationale: the cache feeds the open
# attempt page. Keyed by the version id alone because a version is never updated (a revision
# is a new row, and an attempt's layout names the versions it was dealt), so an entry cannot
# be stale, and each app server may hold its own copy. Bounded: cleared whole when full.
_VERSION_CACHE: dict[int, tuple[str, str, dict[int, str]]] = {}
_VERSION_CACHE_MAX = 4096


def _versions_shown(version_ids: list[int]) -> dict[int, tuple[str, str, dict[int, str]]]:
    """(type, stem_html, {option id: text_html}) per version; one query for those not cached yet."""
    missing = [v for v in version_ids if v not in _VERSION_CACHE]
    if missing:
        fetched: dict[int, tuple[str, str, dict[int, str]]] = {}
        # order_by(): Option's default ordering would join item versions for nothing.
        rows = (
            Option.objects.filter(version_id__in=missing)
            .order_by()
            .values_list("version_id", "version__type", "version__stem_html", "pk", "text_html")
        )
        for version_id, type_, stem_html, option_id, text_html in rows:
            entry = fetched.get(version_id)
            if entry is None:
                entry = fetched[version_id] = (type_, stem_html, {})
            entry[2][option_id] = text_html
        if len(_VERSION_CACHE) + len(fetched) > _VERSION_CACHE_MAX:
            _VERSION_CACHE.clear()
        _VERSION_CACHE.update(fetched)
        return {v: _VERSION_CACHE.get(v) or fetched[v] for v in version_ids}
    return {v: _VERSION_CACHE[v] for v in version_ids}


# attempt_questions_get's two reads, written out as attempt_get's is: the ORM
# took longer to build them than the database to run them.
# The attempt's saved answers in one read: a row per chosen option, or one row
# with a NULL option for a question answered with nothing chosen yet (a
# confidence only) or saved empty. One round trip where two were.
_ATTEMPT_RESPONSES_SQL = """
    SELECT response.item_version_id, response.confidence, response.is_correct, interaction.key, choice.option_id
      FROM quizzes_response response
      JOIN quizzes_itemversion version ON version.id = response.item_version_id
      LEFT JOIN curriculum_interaction interaction ON interaction.id = version.interaction_id
      LEFT JOIN quizzes_responsechoice choice ON choice.response_id = response.id
     WHERE response.attempt_id = %s
"""


def attempt_questions_get(*, attempt: Attempt) -> list[QuestionView]:
    """The attempt's questions in the stored order, with the learner's saved answers.

    Reads no answer key for unchecked questions: stems and options come as
    (id, text) only, from the per-process version cache above (one query for
    the versions this process has not shown yet). For a knowledge check,
    questions already checked carry their feedback (one more query, never
    cached). One query (responses with their choices) whatever the number of
    questions, plus one for uncached versions, plus one for feedback.
    """
    with connection.cursor() as cursor:
        cursor.execute(_ATTEMPT_RESPONSES_SQL, [attempt.pk])
        rows = cursor.fetchall()
    # Columns, not expressions: Django's SQLite connection already reads its `bool` type as one.
    responses = {
        version_id: (confidence, is_correct, interaction_key)
        for version_id, confidence, is_correct, interaction_key, _ in rows
    }
    chosen = {option_id for *_, option_id in rows if option_id is not None}
    version_ids = [entry["version"] for entry in attempt.layout]
    shown = _versions_shown(version_ids)
    checked = [v for v, (_, is_correct, _) in responses.items() if is_correct is not None]
    feedback: dict[int, tuple[bool, str]] = {}
    if attempt.quiz.kind == Quiz.Kind.CHECK and checked:
        keyed = Option.objects.filter(version_id__in=checked).order_by().values_list("pk", "is_correct", "rationale_html")
        feedback = {pk: (is_correct, rationale) for pk, is_correct, rationale in keyed}
    questions = []
    for position, entry in enumerate(attempt.layout, start=1):
        version_id = entry["version"]
        confidence, is_correct, interaction_key = responses[version_id]
        type_, stem_html, texts = shown[version_id]
        options = []
        for option_id in entry["options"]:
            option = OptionView(option_id, texts[option_id], chosen=option_id in chosen)
            if option_id in feedback:
                option.is_correct, option.rationale_html = feedback[option_id]
            options.append(option)
        questions.append(
            QuestionView(
                position=position,
                version_id=version_id,
                type=type_,
                stem_html=stem_html,
                options=options,
                confidence=confidence,
                is_correct=is_correct if feedback else None,
                interaction_key=(interaction_key or "") if feedback else "",
            )
        )
    return questions


attempt_questions_get.cache_clear = _VERSION_CACHE.clear


# Per-process cache of answer keys, for grading only: a version's type and correct option ids.
# Never read by a page or the API before submission (quizzes/services.py grades with it). It
# cannot be stale for the reason _VERSION_CACHE cannot: a version and its options are never
# updated. Bounded the same way.
_KEY_CACHE: dict[int, grading.KeyItem] = {}
_KEY_SQL = """
    SELECT version.id, version.type, opt.id
      FROM quizzes_itemversion version
      LEFT JOIN quizzes_option opt ON opt.version_id = version.id AND opt.is_correct
     WHERE version.id IN ({ids})
"""


def answer_keys_get(*, version_ids: list[int]) -> list[grading.KeyItem]:
    """The answer key of each version, in the order given; one query for the versions this process
    has not graded yet, none once it has (a submission grades 20 of the bank's few hundred)."""
    missing = sorted({v for v in version_ids if v not in _KEY_CACHE})
    if missing:
        types: dict[int, str] = {}
        correct: dict[int, set[int]] = {}
        with connection.cursor() as cursor:
            # Only placeholders are formatted in; the ids are parameters.
            cursor.execute(_KEY_SQL.format(ids=", ".join(["%s"] * len(missing))), missing)
            for version_id, type_, option_id in cursor.fetchall():
                types[version_id] = type_
                options = correct.setdefault(version_id, set())
                if option_id is not None:
                    options.add(option_id)
        if len(_KEY_CACHE) + len(types) > _VERSION_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE.update({v: grading.KeyItem(v, types[v], frozenset(correct[v])) for v in types})
    return [_KEY_CACHE[v] for v in version_ids]


answer_keys_get.cache_clear = _KEY_CACHE.clear


def check_feedback_get(*, attempt: Attempt, version_id: int) -> QuestionView:
    """One checked knowledge-check question with its feedback: its key and rationales, and no other's.

    For the check API's answer (the page shows the same through
    attempt_questions_get). Three queries. Raises Response.DoesNotExist if the
    question is not in the attempt or not checked yet, ValueError for a quiz
    that is not a knowledge check (its key must stay hidden).
    """
    if attempt.quiz.kind != Quiz.Kind.CHECK:
        raise ValueError("Only knowledge-check questions have feedback before submission.")
    response = (
        Response.objects.select_related("item_version__interaction")
        .only("position", "confidence", "is_correct", "item_version__type", "item_version__stem_html",
              "item_version__interaction__key")
        .get(attempt=attempt, item_version_id=version_id, is_correct__isnull=False)
    )
    options = {
        pk: (text, is_correct, rationale)
        for pk, text, is_correct, rationale in Option.objects.filter(version_id=version_id)
        .order_by()
        .values_list("pk", "text_html", "is_correct", "rationale_html")
    }
    chosen = set(ResponseChoice.objects.filter(response=response).values_list("option_id", flat=True))
    position, entry = next((p, e) for p, e in enumerate(attempt.layout, start=1) if e["version"] == version_id)
    return QuestionView(
        position=position,
        version_id=version_id,
        type=response.item_version.type,
        stem_html=response.item_version.stem_html,
        options=[OptionView(pk, options[pk][0], pk in chosen, options[pk][1], options[pk][2]) for pk in entry["options"]],
        confidence=response.confidence,
        is_correct=response.is_correct,
        interaction_key=_interaction_key(response),
    )


def _interaction_key(response: Response) -> str:
    interaction = response.item_version.interaction
    return interaction.key if interaction is not None else ""


@dataclass
class AttemptReview:
    attempt: Attempt
    review_allowed: bool
    attempts_used: int
    passed_any: bool
    questions: list[QuestionView]  # empty when the review is not allowed
    revisit: list[dict]  # lesson sections of confidently wrong answers: always shown

    @property
    def confidently_wrong(self) -> int:
        return len(self.revisit)


def attempt_review_get(*, attempt: Attempt, learner) -> AttemptReview:
    """A submitted attempt's result and, if the quiz's review rule allows, its full review.

    Five queries whatever the number of questions or attempts (two without review).
    """
    stats = Attempt.objects.filter(quiz_id=attempt.quiz_id, learner=learner).aggregate(
        used=Count("pk"), passed=Count("pk", filter=Q(passed=True))
    )
    quiz = attempt.quiz
    allowed = grading.review_allowed(
        rule=quiz.review_rule,
        passed_any=bool(stats["passed"]),
        attempts_used=stats["used"],
        attempt_limit=quiz.attempt_limit,
    )
    responses = list(
        Response.objects.filter(attempt=attempt)
        .select_related("item_version__lesson", "item_version__interaction")
        .only(
            "position", "confidence", "is_correct", "item_version__type", "item_version__stem_html",
            "item_version__references", "item_version__section", "item_version__lesson__slug",
            "item_version__interaction__key",
        )
        .order_by("position")
    )
    revisit = []
    for r in responses:
        if r.confidence == Response.Confidence.SURE and r.is_correct is False:
            revisit.append({"lesson_slug": r.item_version.lesson.slug, "section": r.item_version.section})
    questions: list[QuestionView] = []
    if allowed and attempt.submitted_at is not None:
        version_ids = [entry["version"] for entry in attempt.layout]
        options = {
            pk: (text, is_correct, rationale)
            for pk, text, is_correct, rationale in Option.objects.filter(version_id__in=version_ids)
            .order_by()
            .values_list("pk", "text_html", "is_correct", "rationale_html")
        }
        chosen = set(ResponseChoice.objects.filter(response__attempt=attempt).values_list("option_id", flat=True))
        by_version = {r.item_version_id: r for r in responses}
        for position, entry in enumerate(attempt.layout, start=1):
            r = by_version[entry["version"]]
            questions.append(
                QuestionView(
                    position=position,
                    version_id=entry["version"],
                    type=r.item_version.type,
                    stem_html=r.item_version.stem_html,
                    options=[
                        OptionView(pk, options[pk][0], pk in chosen, options[pk][1], options[pk][2])
                        for pk in entry["options"]
                    ],
                    confidence=r.confidence,
                    is_correct=r.is_correct,
                    references=r.item_version.references,
                    lesson_slug=r.item_version.lesson.slug,
                    section=r.item_version.section,
                    interaction_key=_interaction_key(r),
                )
            )
    return AttemptReview(attempt, allowed, stats["used"], bool(stats["passed"]), questions, revisit)


# --- the learner dashboard ---------------------------------------------------------


@dataclass
class QuizInfo:
    """What the dashboard shows of a quiz (a plain row, not a model instance)."""

    pk: int
    course_id: int
    kind: str
    title: str
    pass_mark: int
    attempt_limit: int | None
    recheck_days: int
    lesson_slug: str = ""
    lesson_title: str = ""


@dataclass
class QuizSummary:
    quiz: QuizInfo
    attempts: int = 0
    best_score: Decimal | None = None
    passed: bool = False
    has_open: bool = False
    completed: bool = False
    passed_at: object = None


@dataclass
class ObjectiveGain:
    objective: dict  # {"pk", "course_id", "key", "text"}: a row, not a model instance
    pre_total: int = 0
    pre_correct: int = 0
    post_total: int = 0
    post_correct: int = 0

    @staticmethod
    def _cell(correct: int, total: int) -> str:
        """A column of the dashboard's gain table: "50% (2/4)", or "—" with no answers."""
        return f"{round(100 * correct / total)}% ({correct}/{total})" if total else "—"

    @property
    def pre_cell(self) -> str:
        return self._cell(self.pre_correct, self.pre_total)

    @property
    def post_cell(self) -> str:
        return self._cell(self.post_correct, self.post_total)


@dataclass
class CourseDashboard:
    course: object
    lesson_count: int
    lessons_completed: int
    pretest: QuizSummary | None = None
    posttest: QuizSummary | None = None
    recheck: QuizSummary | None = None
    checks: list[QuizSummary] = field(default_factory=list)
    objectives: list[ObjectiveGain] = field(default_factory=list)

    @property
    def recheck_opens_at(self):
        if not (self.posttest and self.posttest.passed_at):
            return None
        return self.posttest.passed_at + dt.timedelta(days=self.posttest.quiz.recheck_days)

    @property
    def recheck_is_open(self) -> bool:
        opens_at = self.recheck_opens_at
        return opens_at is not None and opens_at <= timezone.now()

    @property
    def checks_completed(self) -> int:
        return sum(1 for c in self.checks if c.completed)

    @property
    def steps(self) -> tuple[int, int]:
        """(done, total) over lessons, knowledge checks and the post-test."""
        total = self.lesson_count + len(self.checks) + (1 if self.posttest else 0)
        done = self.lessons_completed + self.checks_completed + (1 if self.posttest and self.posttest.passed else 0)
        return done, total

    @property
    def percent(self) -> int:
        done, total = self.steps
        return round(100 * done / total) if total else 0

    @property
    def remaining(self) -> list[str]:
        """What the learner still has to do for credit, in plain words."""
        left = []
        if self.lessons_completed < self.lesson_count:
            left.append(f"Complete {self.lesson_count - self.lessons_completed} more lesson(s).")
        if self.checks_completed < len(self.checks):
            left.append(f"Finish {len(self.checks) - self.checks_completed} more knowledge check(s).")
        if self.posttest and not self.posttest.passed:
            left.append(f"Pass the post-test ({self.posttest.quiz.pass_mark}% or more).")
        return left


# The dashboard's two learner-specific reads, written out: the ORM spent about
# 2.4 ms of Python building them (a FilteredRelation with five aggregates, and a
# four-way join grouped by objective) to run about 1 ms of SQL. Both aggregate in
# the database: a quiz's attempt statistics join only this learner's attempts
# (in the join's ON clause, so a quiz never attempted still comes back with
# zeros), and each active objective carries this learner's pre- and post-test
# response counts. `{courses}` is one placeholder per course id; `{pre}` and
# `{post}` are the quiz kinds, written in as text, not sent as parameters: with
# them as parameters PostgreSQL judged a kept plan dearer than a fresh one and
# planned the objectives query on every request (1.2 ms, twice its run time).
_DASHBOARD_QUIZZES_SQL = """
    SELECT quiz.id, quiz.course_id, quiz.kind, quiz.title, quiz.pass_mark, quiz.attempt_limit,
           quiz.recheck_days, lesson.slug, version.title,
           COUNT(mine.id),
           MAX(mine.score),
           COUNT(mine.id) FILTER (WHERE mine.passed),
           COUNT(mine.id) FILTER (WHERE mine.submitted_at IS NULL),
           MIN(mine.submitted_at) FILTER (WHERE mine.passed)
      FROM quizzes_quiz quiz
      LEFT JOIN curriculum_lesson lesson ON lesson.id = quiz.lesson_id
      LEFT JOIN curriculum_lessonversion version ON version.id = lesson.current_version_id
      LEFT JOIN quizzes_attempt mine ON mine.quiz_id = quiz.id AND mine.learner_id = %s
     WHERE quiz.course_id IN ({courses})
     GROUP BY quiz.id, lesson.id, version.id
     ORDER BY quiz.course_id, quiz.kind, lesson.position
"""
_DASHBOARD_OBJECTIVES_SQL = """
    SELECT objective.id, objective.course_id, objective.key, objective.text,
           COALESCE(gain.pre_total, 0), COALESCE(gain.pre_correct, 0),
           COALESCE(gain.post_total, 0), COALESCE(gain.post_correct, 0)
      FROM curriculum_objective objective
      LEFT JOIN curriculum_lesson lesson ON lesson.id = objective.lesson_id
      LEFT JOIN (
           SELECT version.objective_id,
                  COUNT(*) FILTER (WHERE quiz.kind = '{pre}') AS pre_total,
                  COUNT(*) FILTER (WHERE quiz.kind = '{pre}' AND response.is_correct) AS pre_correct,
                  COUNT(*) FILTER (WHERE quiz.kind = '{post}') AS post_total,
                  COUNT(*) FILTER (WHERE quiz.kind = '{post}' AND response.is_correct) AS post_correct
             FROM quizzes_attempt attempt
             JOIN quizzes_quiz quiz ON quiz.id = attempt.quiz_id
             JOIN quizzes_response response ON response.attempt_id = attempt.id
             JOIN quizzes_itemversion version ON version.id = response.item_version_id
            WHERE attempt.learner_id = %s AND attempt.submitted_at IS NOT NULL
              AND quiz.kind IN ('{pre}', '{post}') AND quiz.course_id IN ({courses})
            GROUP BY version.objective_id
           ) gain ON gain.objective_id = objective.id
     WHERE objective.course_id IN ({courses}) AND objective.is_active
     ORDER BY lesson.position, objective.position, objective.id
"""


def learner_dashboard_get(*, learner) -> list[CourseDashboard]:
    """Per published course: lessons, quizzes, attempts, best scores, and per-objective
    pre-test vs post-test correctness (every submitted attempt of each).

    Three queries whatever the number of courses, lessons, questions or
    attempts: courses, quizzes with this learner's attempt statistics, and
    active objectives with this learner's gains. Quizzes and objectives are
    rows, not model instances.
    """
    courses = curriculum_selectors.catalogue_list(learner=learner)
    if not courses:
        return []
    boards = {c.pk: CourseDashboard(c, c.lesson_count, getattr(c, "completed_count", 0)) for c in courses}
    course_ids = list(boards)
    in_courses = ", ".join(["%s"] * len(course_ids))
    score, submitted_at = db_rows.reader(Attempt).convert("score"), db_rows.reader(Attempt).convert("submitted_at")
    kinds = {"pre": Quiz.Kind.PRETEST.value, "post": Quiz.Kind.POSTTEST.value}  # constants, not input
    with connection.cursor() as cursor:
        cursor.execute(_DASHBOARD_QUIZZES_SQL.format(courses=in_courses), [learner.pk, *course_ids])
        quizzes = cursor.fetchall()
        cursor.execute(
            _DASHBOARD_OBJECTIVES_SQL.format(courses=in_courses, **kinds), [learner.pk, *course_ids, *course_ids]
        )
        objectives = cursor.fetchall()
    for (pk, course_id, kind, title, pass_mark, attempt_limit, recheck_days, lesson_slug, lesson_title,
         n, best, passed_n, open_n, passed_at) in quizzes:
        quiz = QuizInfo(
            pk, course_id, kind, title, pass_mark, attempt_limit, recheck_days, lesson_slug or "",
            lesson_title or lesson_slug or "",
        )
        summary = QuizSummary(
            quiz,
            attempts=n,
            best_score=score(best),
            passed=passed_n > 0,
            has_open=open_n > 0,
            completed=n > open_n,
            passed_at=submitted_at(passed_at),
        )
        board = boards[course_id]
        if kind == Quiz.Kind.PRETEST:
            board.pretest = summary
        elif kind == Quiz.Kind.POSTTEST:
            board.posttest = summary
        elif kind == Quiz.Kind.RECHECK:
            board.recheck = summary
        else:
            board.checks.append(summary)
    for pk, course_id, key, text, pre_total, pre_correct, post_total, post_correct in objectives:
        boards[course_id].objectives.append(
            ObjectiveGain(
                {"pk": pk, "course_id": course_id, "key": key, "text": text},
                pre_total, pre_correct, post_total, post_correct,
            )
        )
    return list(boards.values())


# --- item analysis (staff) ------------------------------------------------------------


@dataclass
class ItemAnalysisRow:
    version: object  # ItemVersion with item and objective
    stat: analysis.ItemStat


def item_analysis_get(
    *, quiz: Quiz, first_attempts_only: bool = True, min_responses: int = analysis.MIN_RESPONSES
) -> list[ItemAnalysisRow]:
    """Per item version answered in `quiz`: facility, discrimination, distractor counts, flags.

    Uses submitted attempts, first attempts only by default (later attempts
    are practised ones). Each version is its own row, so an edited item starts
    fresh. Four queries, all aggregated in SQL, whatever the number of
    attempts: response sums per version, choice counts per option, the options,
    and the versions.
    """
    attempt_filter = Q(attempt__quiz=quiz, attempt__submitted_at__isnull=False)
    if first_attempts_only:
        attempt_filter &= Q(attempt__number=1)
    item_point = Case(When(is_correct=True, then=Value(1.0)), default=Value(0.0), output_field=FloatField())
    rest = ExpressionWrapper(
        (Cast("attempt__correct_count", FloatField()) - item_point)
        / NullIf(Cast("attempt__question_count", FloatField()) - Value(1.0), Value(0.0)),
        output_field=FloatField(),
    )
    sums = list(
        Response.objects.filter(attempt_filter)
        .values("item_version_id")
        .annotate(
            n=Count("pk"),
            n_correct=Count("pk", filter=Q(is_correct=True)),
            rest_sum=Sum(rest),
            rest_sq_sum=Sum(rest * rest),
            rest_sum_correct=Sum(rest, filter=Q(is_correct=True)),
        )
        .order_by("item_version_id")
    )
    version_ids = [row["item_version_id"] for row in sums]
    choice_filter = Q(response__attempt__quiz=quiz, response__attempt__submitted_at__isnull=False)
    if first_attempts_only:
        choice_filter &= Q(response__attempt__number=1)
    chosen = dict(
        ResponseChoice.objects.filter(choice_filter).values("option_id").annotate(n=Count("pk")).values_list(
            "option_id", "n"
        )
    )
    options: dict[int, list[tuple[int, str, bool, int]]] = {}
    for pk, version_id, position, is_correct in (
        Option.objects.filter(version_id__in=version_ids)
        .order_by("version_id", "position")
        .values_list("pk", "version_id", "position", "is_correct")
    ):
        label = chr(ord("A") + position - 1)
        options.setdefault(version_id, []).append((pk, label, is_correct, chosen.get(pk, 0)))
    versions = ItemVersion.objects.filter(pk__in=version_ids).select_related("item", "objective").in_bulk()
    rows = []
    for row in sums:
        item_sums = analysis.ItemSums(
            version_id=row["item_version_id"],
            n=row["n"],
            n_correct=row["n_correct"],
            rest_sum=row["rest_sum"] or 0.0,
            rest_sq_sum=row["rest_sq_sum"] or 0.0,
            rest_sum_correct=row["rest_sum_correct"] or 0.0,
        )
        stat = analysis.item_stat(item_sums, options.get(item_sums.version_id, []), min_responses=min_responses)
        rows.append(ItemAnalysisRow(versions[item_sums.version_id], stat))
    rows.sort(key=lambda r: (r.version.item.key, r.version.number))
    return rows


def staff_quiz_list():
    """Every quiz with its course, submitted attempts and mean score (for a re-check: the
    retention outcome), for the staff analysis index. One query."""
    submitted = Q(attempts__submitted_at__isnull=False)
    return (
        Quiz.objects.select_related("course", "lesson")
        .annotate(submitted_count=Count("attempts", filter=submitted), mean_score=Avg("attempts__score", filter=submitted))
        .order_by("course__title", "kind", "lesson__position")
    )


@dataclass
class MythEndorsement:
    myth: object  # curriculum.Myth
    pre_n: int = 0
    pre_endorsed: int = 0
    post_n: int = 0
    post_endorsed: int = 0

    @property
    def pre_share(self) -> float | None:
        return self.pre_endorsed / self.pre_n if self.pre_n else None

    @property
    def post_share(self) -> float | None:
        return self.post_endorsed / self.post_n if self.post_n else None


def myth_endorsement_list(*, course) -> list[MythEndorsement]:
    """Per myth of the course: how often learners endorsed it (answered its item wrongly)
    on the pre-test and on the post-test, first attempts only. Two queries."""
    rows = {m.pk: MythEndorsement(m) for m in Myth.objects.filter(course=course).order_by("key")}
    counts = (
        Response.objects.filter(
            item_version__myth__course=course,
            attempt__submitted_at__isnull=False,
            attempt__number=1,
            attempt__quiz__kind__in=[Quiz.Kind.PRETEST, Quiz.Kind.POSTTEST],
        )
        .values("item_version__myth_id", "attempt__quiz__kind")
        .annotate(n=Count("pk"), endorsed=Count("pk", filter=Q(is_correct=False)))
    )
    for row in counts:
        entry = rows.get(row["item_version__myth_id"])
        if entry is None:
            continue
        if row["attempt__quiz__kind"] == Quiz.Kind.PRETEST:
            entry.pre_n, entry.pre_endorsed = row["n"], row["endorsed"]
        else:
            entry.post_n, entry.post_endorsed = row["n"], row["endorsed"]
    return list(rows.values())
