"""A learner's pages read only that learner's rows, however many other learners there are.

The bug this guards against passes every functional test and shows only at
volume: a query that joins every learner's rows and filters them afterwards
(the catalogue's lesson counts until session 3; the credit completion check
until session 5, 0.5-1.1 s on each of the evaluation, claim and activity
pages at 100,000 learners, which cut `make bench --scale 10`'s journey to a
fifth). Each page a clinician opens on the way to a certificate, and their
API reads, run with one other learner's history in the database and again
after more learners have done the whole course; PostgreSQL's EXPLAIN
ANALYZE of every SELECT the page ran must read no more rows the second time.

Sequential scans are disabled while explaining: the test tables are tiny, so
the planner would scan them whole even for a query an index serves. With an
index available, a query scoped to the learner reads the same rows whatever
the others have done; one that reads every learner's rows reads more.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from credits import services as credit_services
from credits.models import Certificate, CreditType
from curriculum import services as curriculum_services
from curriculum.models import Course, Lesson
from quizzes import grading
from quizzes import services as quiz_services
from quizzes.models import Attempt, Option, Quiz
from tests.credits.factories import claim_input, evaluation_submit
from tests.factories import UserFactory

pytestmark = pytest.mark.postgres

SCAN_NODES = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def _rows_read(plan: dict) -> int:
    """Rows a plan's table scans read: returned plus removed by filter or recheck, times loops."""
    read = 0
    if plan["Node Type"] in SCAN_NODES:
        per_loop = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                    + plan.get("Rows Removed by Index Recheck", 0))
        read += per_loop * plan.get("Actual Loops", 1)
    for child in plan.get("Plans", ()):
        read += _rows_read(child)
    return read


def _explain(sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            (document,) = cursor.fetchone()
        finally:
            cursor.execute("RESET enable_seqscan")
    return _rows_read(document[0]["Plan"])


def _page_reads(client: Client, path: str, **headers) -> tuple[int, dict[str, int]]:
    """GET path; (status, {SQL of each SELECT it ran: rows that SELECT reads now})."""
    ran: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("SELECT", "WITH")) and " FOR UPDATE" not in sql.upper():
            ran.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        response = client.get(path, **headers)
    reads: dict[str, int] = {}
    for sql, params in ran:
        reads[sql] = reads.get(sql, 0) + _explain(sql, params)
    return response.status_code, reads


def _correct_answers(attempt: Attempt) -> list[grading.Answer]:
    versions = [entry["version"] for entry in attempt.layout]
    correct: dict[int, set[int]] = {version: set() for version in versions}
    for option in Option.objects.filter(version_id__in=versions, is_correct=True):
        correct[option.version_id].add(option.pk)
    return [grading.Answer(version_id=v, option_ids=frozenset(ids)) for v, ids in correct.items()]


class BundledCourse:
    """The bundled course, loaded as `make run` loads it, with its CE activity."""

    def __init__(self):
        call_command("load_curriculum", stdout=StringIO())
        call_command("ensure_activities", stdout=StringIO())
        self.course = Course.objects.get(slug="kratom-for-clinicians")
        self.activity = self.course.activity
        assert self.activity.is_published, "the bundled activity's publish check should be clean"
        self.designation = self.activity.designations.get(credit_type=CreditType.COMPLETION)
        self.lessons = list(Lesson.objects.published().filter(course=self.course).order_by("position"))
        self.quizzes = {(q.kind, q.lesson_id): q for q in Quiz.objects.filter(course=self.course)}

    def history(self, learner, *, claim: bool = True) -> None:
        """What a clinician leaves on the way to a certificate: pre-test, every lesson and its
        knowledge check, a failed and a passed post-test, the evaluation and the claim."""
        pretest = quiz_services.attempt_start(learner=learner, quiz=self.quizzes[(Quiz.Kind.PRETEST, None)])
        quiz_services.attempt_submit(attempt_id=pretest.pk, learner=learner, answers=[])
        for lesson in self.lessons:
            curriculum_services.lesson_progress_open(learner=learner, lesson=lesson)
            curriculum_services.lesson_progress_complete(learner=learner, lesson=lesson, served_token=None,
                                                         max_minutes=60)
            check = self.quizzes.get((Quiz.Kind.CHECK, lesson.pk))
            if check is not None:
                attempt = quiz_services.attempt_start(learner=learner, quiz=check)
                quiz_services.attempt_submit(attempt_id=attempt.pk, learner=learner,
                                             answers=_correct_answers(attempt))
        posttest = self.quizzes[(Quiz.Kind.POSTTEST, None)]
        failed = quiz_services.attempt_start(learner=learner, quiz=posttest)
        quiz_services.attempt_submit(attempt_id=failed.pk, learner=learner, answers=[])
        passed = quiz_services.attempt_start(learner=learner, quiz=posttest)
        quiz_services.attempt_submit(attempt_id=passed.pk, learner=learner, answers=_correct_answers(passed))
        evaluation_submit(learner, self.activity)
        if claim:
            credit_services.claim_create(learner=learner, activity_id=self.activity.pk, data=claim_input(
                credit_type=CreditType.COMPLETION, hours=self.designation.max_amount, npi=""))


def _pages(world: BundledCourse, learner) -> list[tuple[str, dict]]:
    """(path, headers) of every page and API read the learner opens, in journey order."""
    slug = world.course.slug
    posttest = world.quizzes[(Quiz.Kind.POSTTEST, None)]
    attempt = Attempt.objects.filter(learner=learner, quiz=posttest).order_by("-number").first()
    certificate = Certificate.objects.filter(claim__learner=learner).values_list("pk", flat=True).first()
    pages = [
        reverse("curriculum:catalogue"),
        reverse("curriculum:course_detail", args=[slug]),
        *(reverse("curriculum:lesson_detail", args=[slug, lesson.slug]) for lesson in world.lessons[:2]),
        reverse("quizzes:quiz_detail", args=[slug, "posttest"]),
        reverse("quizzes:attempt_result", args=[attempt.pk]),
        reverse("quizzes:dashboard"),
        reverse("credits:activity_detail", args=[slug]),
        reverse("credits:evaluation_form", args=[slug]),
        reverse("credits:claim_form", args=[slug]),
        reverse("credits:transcript"),
    ]
    if certificate:
        pages += [reverse("credits:certificate_detail", args=[certificate]),
                  reverse("credits:certificate_pdf", args=[certificate])]
    json = {"HTTP_ACCEPT": "application/json"}
    api = [
        reverse("v1:course-list"),
        reverse("v1:my-progress-list"),
        reverse("v1:my-certificate-list"),
        reverse("v1:completion-detail", args=[slug]),
        reverse("v1:attempt-result", args=[attempt.pk]),
    ]
    return [(path, {}) for path in pages] + [(path, json) for path in api]


def _reads(world: BundledCourse, learners) -> dict[tuple[str, object], tuple[int, dict[str, int]]]:
    out = {}
    for learner in learners:
        client = Client()
        client.force_login(learner)
        for path, headers in _pages(world, learner):
            out[(path, learner.pk)] = _page_reads(client, path, **headers)
    return out


@pytest.mark.django_db(transaction=False)
def test_a_learners_pages_read_no_more_rows_when_other_learners_finish_the_course():
    world = BundledCourse()
    claimed, unclaimed = UserFactory(), UserFactory()
    world.history(claimed)
    world.history(unclaimed, claim=False)  # the evaluation and claim pages as a journey meets them
    world.history(UserFactory())
    before = _reads(world, [claimed, unclaimed])

    for _ in range(8):
        world.history(UserFactory())
    after = _reads(world, [claimed, unclaimed])

    assert after.keys() == before.keys()
    grew = []
    for key, (status, reads) in after.items():
        status_before, reads_before = before[key]
        assert status == status_before, key
        assert status in (200, 302), (key, status)
        for sql, rows in reads.items():
            if rows > reads_before.get(sql, 0):
                grew.append(f"{key[0]}: {reads_before.get(sql, 0)} -> {rows} rows: {sql[:400]}")
    assert not grew, "queries that read other learners' rows:\n" + "\n".join(grew)
    # The check can see what it guards: every page ran queries, and they read rows.
    assert all(reads for _, reads in after.values())
