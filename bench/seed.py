"""Seed a benchmark database with a realistic volume of learner records, fast.

`seed()` fills an empty, migrated PostgreSQL database that already holds the
course (`manage.py load_curriculum`) with N learners and what they did:
lesson progress, the pre-test, knowledge checks (retaken until right), the
post-test (up to the attempt limit, retaken when failed) with graded
responses and the options chosen, outbox events, and, where the credits app
has its tables, evaluations, claims and certificates; where the lms app has
its tables, an organisation with enrolments and an integration token.

Rows go in with PostgreSQL COPY in primary-key order (ids are allocated here,
sequences are moved past them at the end), about 100x faster than the
services. This deliberately bypasses the services' write path: it writes
what they would have written for learners who did these things (every row
satisfies the tables' constraints, which PostgreSQL checks on COPY), except
the credit audit log, which a bulk seed cannot extend honestly. Use it only
on a throwaway database (bench/run.py creates one).

Correctness follows a small item-response model: each learner has an ability,
each item a difficulty from its author's rating, so item analysis finds real
facilities, discriminations and rarely chosen distractors.

Besides the population, the seed makes the cohorts the load needs:
`readers` (finished learners whose pages are read), `submitters` (each with
one open post-test attempt to submit), `journey` (new accounts that sign in
and take the course), and one staff account.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models
from django.utils import timezone

from accounts.models import User
from curriculum.models import Course, LearnerEvent, Lesson, LessonProgress, Objective
from quizzes import grading
from quizzes.models import Attempt, Item, Option, Quiz, Response, ResponseChoice

# Every seeded account has this password: the journey signs in with it through the login form.
# pragma: allowlist nextline secret
LEARNER_PASSWORD = "bench-learner-2026"  # noqa: S105 (a throwaway benchmark database)
EMAIL_DOMAIN = "bench.example.org"
# Clinicians who finish a CE course mostly pass: about two thirds pass the post-test
# first time, nearly nine in ten within three attempts.
DIFFICULTY = {"easy": -1.2, "medium": -0.3, "hard": 0.7}
# Shares of the population by how far they got (the rest finished every lesson).
SHARE_REGISTERED_ONLY = 0.08
SHARE_PARTWAY = 0.14


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    course_slug: str = ""
    lesson_slugs: list[str] = field(default_factory=list)
    readers: list[int] = field(default_factory=list)  # user ids
    submitters: list[tuple[int, int]] = field(default_factory=list)  # (user id, open attempt id)
    journey_emails: list[str] = field(default_factory=list)
    staff_id: int = 0
    api_token: str = ""  # raw integration token, if the lms tables exist
    certificates: dict[int, int] = field(default_factory=dict)  # reader id -> certificate id


# --- COPY helpers -----------------------------------------------------------------------


def _table_exists(model) -> bool:
    return model._meta.db_table in connection.introspection.table_names()


def _constant_defaults(model, given: list[str]) -> tuple[list[str], list]:
    """Columns the caller does not give, with their (Python-side) defaults as COPY text.

    Keeps the seed working when another app adds a field with a default.
    """
    columns, values = [], []
    now = timezone.now()
    for f in model._meta.concrete_fields:
        if f.column in given or f.primary_key or f.generated:
            continue  # a generated column (LessonProgress.updated_at) is the database's to write
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        else:
            raise RuntimeError(f"{model.__name__}.{f.name} has no default; teach bench/seed.py about it")
        if isinstance(f, models.JSONField) and value is not None:
            value = json.dumps(value)
        columns.append(f.column)
        values.append(value)
    return columns, values


class Copier:
    """Allocates ids and streams rows into one table with COPY.

    Each COPY commits on its own, so a table's rows must follow the rows they
    point at: flushing flushes `parents` first (add a parent row before its children).
    """

    def __init__(self, model, columns: list[str], parents: tuple[Copier, ...] = ()):
        self.model = model
        self.parents = parents
        self.table = model._meta.db_table
        extra_cols, self.extra_vals = _constant_defaults(model, ["id", *columns])
        self.columns = ["id", *columns, *extra_cols]
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{self.table}"')  # noqa: S608 (model table name)
            self.next_id = cursor.fetchone()[0] + 1
        self.rows: list[tuple] = []
        self.written = 0

    def add(self, *values) -> int:
        pk = self.next_id
        self.next_id += 1
        self.rows.append((pk, *values, *self.extra_vals))
        if len(self.rows) >= 50_000:
            self.flush()
        return pk

    def flush(self) -> None:
        for parent in self.parents:
            parent.flush()
        if not self.rows:
            return
        cols = ", ".join(f'"{c}"' for c in self.columns)
        with connection.cursor() as cursor, cursor.cursor.copy(f'COPY "{self.table}" ({cols}) FROM STDIN') as copy:
            for row in self.rows:
                copy.write_row(row)
        self.written += len(self.rows)
        self.rows = []

    def finish(self) -> int:
        self.flush()
        with connection.cursor() as cursor:
            # The next id the application inserts follows the seeded ones.
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [self.table, max(self.next_id - 1, 1)])
        return self.written


# --- the course as the seed sees it ----------------------------------------------------


@dataclass
class ItemInfo:
    version_id: int
    objective_id: int
    type: str
    difficulty: float
    options: list[int]  # in file order
    correct: frozenset[int]


@dataclass
class QuizInfo:
    quiz: Quiz
    pool: list[grading.PoolItem]


def _course_model(course: Course):
    items: dict[int, ItemInfo] = {}
    pools: dict[str, list[int]] = defaultdict(list)
    by_lesson: dict[int, list[int]] = defaultdict(list)
    rng = random.Random(7)
    for item in Item.objects.filter(course=course, is_active=True, current_version__isnull=False).select_related(
        "current_version"
    ):
        v = item.current_version
        options = list(Option.objects.filter(version=v).order_by("position").values_list("pk", "is_correct"))
        items[v.pk] = ItemInfo(
            version_id=v.pk,
            objective_id=v.objective_id,
            type=v.type,
            difficulty=DIFFICULTY.get(v.difficulty, 0.0) + rng.gauss(0, 0.5),
            options=[pk for pk, _ in options],
            correct=frozenset(pk for pk, ok in options if ok),
        )
        for pool in item.pools:
            pools[pool].append(v.pk)
        by_lesson[v.lesson_id].append(v.pk)
    quizzes: dict[tuple[str, int | None], QuizInfo] = {}
    for quiz in Quiz.objects.filter(course=course):
        if quiz.kind == Quiz.Kind.CHECK:
            ids = [i for i in pools.get("check", []) if i in by_lesson.get(quiz.lesson_id, [])]
        else:
            ids = pools.get(quiz.kind, [])
        pool = [grading.PoolItem(i, items[i].objective_id, tuple(items[i].options)) for i in ids]
        if pool:
            quizzes[(quiz.kind, quiz.lesson_id)] = QuizInfo(quiz, pool)
    return items, quizzes


def _p_correct(ability: float, difficulty: float) -> float:
    return 1.0 / (1.0 + math.exp(-1.7 * (ability - difficulty)))


def _answer(rng: random.Random, info: ItemInfo, ability: float) -> tuple[bool, list[int]]:
    """Whether the learner gets the item right, and the options they tick."""
    right = rng.random() < _p_correct(ability, info.difficulty)
    if right:
        return True, sorted(info.correct)
    wrong = [o for o in info.options if o not in info.correct]
    if not wrong:
        return False, []
    if info.type == "multiple":
        chosen = set(info.correct)
        if len(chosen) > 1 and rng.random() < 0.5:
            chosen.discard(rng.choice(sorted(chosen)))
        else:
            chosen.add(rng.choice(wrong))
        return False, sorted(chosen)
    # Distractors are not equally tempting: the first attracts most, the last hardly anyone.
    weights = [0.55 ** i for i in range(len(wrong))]
    if len(wrong) >= 3:
        weights[-1] = 0.01
    return False, [rng.choices(wrong, weights=weights)[0]]


# --- the seed ---------------------------------------------------------------------------


def seed(
    *,
    learners: int = 10_000,
    readers: int = 256,
    submitters: int = 4_000,
    journey: int = 2_000,
    rng_seed: int = 2026,
    progress=print,
) -> SeedResult:
    """Fill the database; returns counts and the cohorts the load needs. Run once per database."""
    rng = random.Random(rng_seed)
    result = SeedResult()
    t_all = time.perf_counter()
    course = Course.objects.published().order_by("pk").first()
    if course is None:
        raise RuntimeError("no published course: run manage.py load_curriculum first")
    lessons = list(Lesson.objects.published().filter(course=course).select_related("current_version").order_by("position"))
    result.course_slug = course.slug
    result.lesson_slugs = [lesson.slug for lesson in lessons]
    items, quizzes = _course_model(course)
    pretest = quizzes.get((Quiz.Kind.PRETEST, None))
    posttest = quizzes.get((Quiz.Kind.POSTTEST, None))
    if posttest is None:
        raise RuntimeError("the course has no post-test pool: nothing to submit")
    checks = {lesson.pk: quizzes.get((Quiz.Kind.CHECK, lesson.pk)) for lesson in lessons}
    objectives = list(Objective.objects.filter(course=course, is_active=True).values_list("pk", flat=True))
    now = timezone.now()
    start = now - dt.timedelta(days=120)

    # --- accounts: one password hash (at the production cost) shared by all
    t = time.perf_counter()
    password = make_password(LEARNER_PASSWORD)
    users = Copier(User, ["password", "last_login", "is_superuser", "email", "full_name", "profession", "npi",
                          "nabp_eprofile_id", "licence_number", "licence_state", "is_staff", "is_active",
                          "date_joined"])
    professions = [p for p, _ in User.Profession.choices]
    prof_weights = [30, 18, 10, 22, 18, 2][: len(professions)]

    def account(prefix: str, i: int, *, staff: bool = False) -> int:
        joined = start + dt.timedelta(seconds=rng.randrange(100 * 86400))
        email = f"{prefix}-{i:06d}@{EMAIL_DOMAIN}"
        pk = users.add(password, None, staff, email, f"Bench Learner {prefix} {i}",
                       rng.choices(professions, weights=prof_weights)[0], "", "", "", "", staff, True, joined)
        if prefix == "journey":
            result.journey_emails.append(email)
        return pk

    result.staff_id = account("staff", 0, staff=True)
    population = [account("learner", i) for i in range(learners)]
    submit_ids = [account("submit", i) for i in range(submitters)]
    for i in range(journey):
        account("journey", i)
    result.counts["users"] = users.finish()
    result.seconds["users"] = time.perf_counter() - t
    progress(f"seed: {result.counts['users']:,} accounts in {result.seconds['users']:.1f} s")

    # --- activity: progress, attempts, responses, events
    t = time.perf_counter()
    progress_rows = Copier(LessonProgress, ["learner_id", "lesson_id", "first_opened_at", "last_opened_at",
                                            "completed_at", "completed_version_id", "seconds_on_page", "visits"])
    attempts = Copier(Attempt, ["learner_id", "quiz_id", "number", "seed", "layout", "started_at", "saved_at",
                                "submitted_at", "correct_count", "question_count", "score", "passed"])
    responses = Copier(Response, ["attempt_id", "item_version_id", "position", "confidence", "answered_at",
                                  "is_correct"], parents=(attempts,))
    choices = Copier(ResponseChoice, ["response_id", "option_id"], parents=(responses,))
    events = Copier(LearnerEvent, ["learner_id", "verb", "object_ref", "data", "occurred_at"])
    passed_at: dict[int, dt.datetime] = {}
    finished: list[int] = []

    def take(quiz_info: QuizInfo, learner: int, number: int, ability: float, at: dt.datetime,
             *, submit: bool = True) -> tuple[int, bool]:
        quiz = quiz_info.quiz
        seed_value = rng.getrandbits(62)
        layout = grading.layout_build(quiz_info.pool, seed=seed_value, per_objective=quiz.draw_per_objective,
                                      total=quiz.question_count)
        answers = [_answer(rng, items[entry["version"]], ability) if submit else None for entry in layout]
        correct = sum(1 for a in answers if a and a[0])
        finished_at = at + dt.timedelta(seconds=rng.randrange(120, 1500)) if submit else None
        score = passed = None
        if submit:
            score = (Decimal(100 * correct) / Decimal(len(layout))).quantize(Decimal("0.01"))
            passed = score >= quiz.pass_mark
        attempt_id = attempts.add(learner, quiz.pk, number, seed_value, json.dumps(layout), at, None, finished_at,
                                  correct if submit else None, len(layout), score, passed)
        confidence_on = quiz.confidence_enabled and submit
        for position, (entry, answer) in enumerate(zip(layout, answers, strict=True), start=1):
            if answer is None:
                responses.add(attempt_id, entry["version"], position, "", None, None)
                continue
            ok, picked = answer
            confidence = ("sure" if rng.random() < 0.7 else "unsure") if confidence_on else ""
            response_id = responses.add(attempt_id, entry["version"], position, confidence, at, ok)
            for option_id in picked:
                choices.add(response_id, option_id)
        if submit and quiz.kind == Quiz.Kind.POSTTEST:
            events.add(learner, "passed" if passed else "failed", f"quizzes.attempt:{attempt_id}",
                       json.dumps({"score": str(score), "number": number, "quiz": quiz.pk}), finished_at)
        return attempt_id, bool(passed)

    def learn(learner: int, ability: float, n_done: int, n_open: int, at: dt.datetime) -> dt.datetime:
        if pretest and rng.random() < 0.9:
            take(pretest, learner, 1, ability, at)
            at += dt.timedelta(minutes=rng.randrange(5, 30))
        for index, lesson in enumerate(lessons[: n_done + n_open]):
            done = index < n_done
            opened = at
            at += dt.timedelta(minutes=rng.randrange(4, 40))
            seconds = rng.randrange(180, 2400)
            pk = progress_rows.add(learner, lesson.pk, opened, at, at if done else None,
                                   lesson.current_version_id if done else None, seconds if done else 0,
                                   rng.randrange(1, 4))
            events.add(learner, "experienced", f"curriculum.lessonprogress:{pk}", "{}", opened)
            if done:
                events.add(learner, "completed", f"curriculum.lessonprogress:{pk}",
                           json.dumps({"lesson_version": lesson.current_version_id, "seconds": seconds}), at)
                check = checks.get(lesson.pk)
                if check:
                    # Knowledge checks have no limit: many retake until every answer is right.
                    for number in range(1, 8):
                        take(check, learner, number, ability + 0.3 * number, at)
                        at += dt.timedelta(minutes=rng.randrange(1, 5))
                        if rng.random() < 0.42:
                            break
            ability += 0.12  # reading helps
        return at

    tenth = max(1, len(population) // 10)
    for seen, learner in enumerate(population):
        if seen and seen % tenth == 0:
            progress(f"seed: activity of {seen:,} of {len(population):,} learners ({100 * seen // len(population)} %)"
                     f" in {time.perf_counter() - t:.0f} s")
        ability = rng.gauss(0.6, 0.9)
        at = start + dt.timedelta(seconds=rng.randrange(90 * 86400))
        roll = rng.random()
        if roll < SHARE_REGISTERED_ONLY:
            learn(learner, ability, 0, rng.randrange(0, 2), at)
            continue
        if roll < SHARE_REGISTERED_ONLY + SHARE_PARTWAY:
            n = rng.randrange(1, len(lessons))
            learn(learner, ability, n, 1, at)
            continue
        at = learn(learner, ability, len(lessons), 0, at)
        finished.append(learner)
        limit = posttest.quiz.attempt_limit or 3
        for number in range(1, limit + 1):
            at += dt.timedelta(hours=rng.randrange(1, 72))
            _, ok = take(posttest, learner, number, ability + 0.25 * (number - 1), at)
            if ok:
                passed_at[learner] = at
                break
    # Learners in the middle of the post-test: one open attempt each, submitted by the benchmark.
    for learner in submit_ids:
        ability = rng.gauss(0.3, 0.9)
        at = learn(learner, ability, len(lessons), 0, now - dt.timedelta(days=rng.randrange(1, 20)))
        attempt_id, _ = take(posttest, learner, 1, ability, now - dt.timedelta(minutes=5), submit=False)
        result.submitters.append((learner, attempt_id))
    result.counts["lesson_progress"] = progress_rows.finish()  # users are all written by now
    result.counts["attempts"] = attempts.finish()
    result.counts["responses"] = responses.finish()
    result.counts["response_choices"] = choices.finish()
    result.seconds["activity"] = time.perf_counter() - t
    result.counts["posttest_passed"] = len(passed_at)
    progress(f"seed: activity of every learner in {result.seconds['activity']:.0f} s; now evaluations, claims,"
             " certificates and the organisation")

    # --- credit: evaluation, claim and certificate for most who passed
    t = time.perf_counter()
    try:
        _seed_credits(result, course, objectives, passed_at, events, rng)
    except Exception as exc:  # noqa: BLE001 - credits is being built (#6): report, keep the rest
        result.notes.append(f"credits not seeded: {type(exc).__name__}: {exc}")
    result.counts["learner_events"] = events.finish()
    result.seconds["credits"] = time.perf_counter() - t

    # --- lms: an organisation that enrolled 40% of learners, and its token
    try:
        _seed_lms(result, course, population, rng)
    except Exception as exc:  # noqa: BLE001 - lms is being built (#7): report, keep the rest
        result.notes.append(f"lms not seeded: {type(exc).__name__}: {exc}")

    passed_sorted = [pk for pk in finished if pk in passed_at]
    with_cert = [pk for pk in passed_sorted if pk in result.certificates]
    result.readers = (with_cert + [pk for pk in passed_sorted if pk not in result.certificates])[:readers]
    result.certificates = {pk: result.certificates[pk] for pk in result.readers if pk in result.certificates}
    # VACUUM as well as ANALYZE: otherwise autovacuum wakes up for the freshly copied
    # tables in the middle of the measurements (and index-only scans need the visibility map).
    t = time.perf_counter()
    progress("seed: VACUUM (ANALYZE)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    result.seconds["vacuum"] = time.perf_counter() - t
    # CHECKPOINT: the seed writes gigabytes of WAL, so PostgreSQL starts a checkpoint that it
    # spreads over minutes (checkpoint_completion_target) and that would write the seed's pages
    # out on the same two cores while the pages are measured. Written now, the load starts on a
    # quiet database. It needs a superuser or pg_checkpoint; without, the run notes it.
    t = time.perf_counter()
    progress("seed: CHECKPOINT")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as exc:
        result.notes.append(f"no CHECKPOINT after the seed ({exc}): a checkpoint may overlap the load")
    result.seconds["checkpoint"] = time.perf_counter() - t
    result.seconds["total"] = time.perf_counter() - t_all
    progress(
        "seeded " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
        + f" in {result.seconds['total']:.1f} s"
    )
    for note in result.notes:
        progress(f"note: {note}")
    return result


def _seed_credits(result: SeedResult, course, objectives, passed_at, events: Copier, rng) -> None:
    from credits import services as credit_services
    from credits.models import Certificate, Claim, CreditType, Evaluation, EvaluationAnswer

    if not _table_exists(Certificate):
        result.notes.append("credits tables missing: no certificates seeded")
        return
    activity, _ = credit_services.activity_ensure(course=course)
    staff = User.objects.get(pk=result.staff_id)
    try:
        credit_services.activity_publish(activity_id=activity.pk, actor=staff)
    except Exception as exc:  # noqa: BLE001 - the publish check may refuse a demo record
        result.notes.append(f"activity not published ({exc}); certificates seeded anyway")
    designations = list(activity.designations.filter(is_offered=True))
    if not designations:
        result.notes.append("the activity offers no credit: no certificates seeded")
        return
    by_type = {d.credit_type: d for d in designations}
    per_profession = {"physician": CreditType.AMA_PRA_1, "pharmacist": CreditType.ACPE, "nurse": CreditType.ANCC,
                      "np": CreditType.ANCC}
    professions = dict(User.objects.filter(pk__in=list(passed_at)).values_list("pk", "profession"))
    evaluations = Copier(Evaluation, ["learner_id", "activity_id", "practice_change", "practice_change_detail",
                                      "perceived_bias", "bias_detail", "comments", "submitted_at"])
    answers = Copier(EvaluationAnswer, ["evaluation_id", "objective_id", "rating"], parents=(evaluations,))
    claims = Copier(Claim, ["learner_id", "activity_id", "designation_id", "credit_type", "hours", "uan",
                            "completed_on", "full_name", "given_name", "family_name", "profession", "npi",
                            "nabp_eprofile_id", "birth_month", "birth_day", "licence_number", "licence_state",
                            "attested_at", "supersedes_id", "created_by_id", "reason"])
    certificates = Copier(Certificate, ["claim_id", "code", "learner_name", "profession", "activity_title",
                                        "completed_on", "credit_type", "credit_label", "amount", "uan",
                                        "designation_statement", "accreditation_statement", "provider_name",
                                        "provider_address", "issued_at", "issued_by_id", "supersedes_id", "reason"],
                          parents=(claims,))
    labels = dict(User.Profession.choices)
    for learner, at in passed_at.items():
        if rng.random() > 0.93:
            continue
        at = at + dt.timedelta(minutes=rng.randrange(2, 60))
        evaluation = evaluations.add(learner, activity.pk, rng.choice(list(Evaluation.PracticeChange.values)), "",
                                     rng.random() < 0.03, "", "", at)
        for objective in objectives:
            answers.add(evaluation, objective, rng.choice([3, 4, 4, 5, 5, 5]))
        if rng.random() > 0.95:
            continue
        designation = by_type.get(per_profession.get(professions[learner], "")) or designations[0]
        hours = designation.max_amount or Decimal("1.00")
        name = f"Bench Learner {learner}"
        claim = claims.add(learner, activity.pk, designation.pk, designation.credit_type, hours,
                           designation.uan if designation.credit_type == CreditType.ACPE else "", at.date(), name,
                           "Bench", f"Learner{learner}", professions[learner], "", "", None, None, "", "", at, None,
                           learner, "")
        events.add(learner, "credit_claimed", f"credits.claim:{claim}",
                   json.dumps({"credit_type": designation.credit_type, "hours": str(hours)}), at)
        certificate = certificates.add(
            claim, secrets.token_urlsafe(16), name, labels.get(professions[learner], professions[learner]),
            course.title, at.date(), designation.credit_type, CreditType(designation.credit_type).label, hours,
            designation.uan if designation.credit_type == CreditType.ACPE else "",
            designation.designation_statement, designation.accreditation_statement or course.accreditation_notice,
            activity.provider_name, activity.provider_address, at, learner, None, "")
        events.add(learner, "certificate_issued", f"credits.certificate:{certificate}", "{}", at)
        result.certificates[learner] = certificate
    result.counts["evaluations"] = evaluations.finish()
    result.counts["evaluation_answers"] = answers.finish()
    result.counts["claims"] = claims.finish()
    result.counts["certificates"] = certificates.finish()


def _seed_lms(result: SeedResult, course, population: list[int], rng) -> None:
    from lms import services as lms_services
    from lms.models import Enrolment, ExternalLearner, Organisation, Scope

    if not (_table_exists(Organisation) and _table_exists(Enrolment)):
        result.notes.append("lms tables missing (no migration yet): no enrolments or token seeded")
        return
    organisation = Organisation.objects.create(name="Bench Health System", slug="bench-health")
    _, raw = lms_services.integration_token_create(
        organisation=organisation, name="bench", scopes=list(Scope.values)
    )
    result.api_token = raw
    identities = Copier(ExternalLearner, ["organisation_id", "external_id", "user_id", "created_at", "updated_at"])
    enrolments = Copier(Enrolment, ["learner_id", "course_id", "status", "created_at", "updated_at"],
                        parents=(identities,))
    now = timezone.now()
    for user_id in population:
        if rng.random() < 0.4:
            identity = identities.add(organisation.pk, f"emp-{user_id}", user_id, now, now)
            enrolments.add(identity, course.pk, Enrolment.Status.ACTIVE, now, now)
    identities.finish()
    result.counts["enrolments"] = enrolments.finish()
