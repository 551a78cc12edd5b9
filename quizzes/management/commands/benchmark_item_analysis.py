"""Benchmark item analysis at production volume (issue #5): not a test, a measurement.

    DATABASE_URL=postgres://... python manage.py benchmark_item_analysis \
        [--learners 10000] [--attempts 200000] [--quizzes 10] [--keep]

PostgreSQL only. Inside one transaction it creates a synthetic course (60
post-test items), the learners, the attempts spread evenly over the quizzes
(numbers 1, 2, ... per learner and quiz), 20 responses and one chosen option
per attempt (correctness drawn from a simple ability/difficulty model, so the
statistics are not noise), runs ANALYZE, then times `item_analysis_get` on
the post-test and prints the queries it ran with their plans. Everything is
rolled back unless --keep. Generation uses INSERT ... SELECT generate_series,
because four million ORM inserts would measure the ORM, not the analysis.
"""

from __future__ import annotations

import statistics
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from curriculum.models import Course, Lesson, LessonVersion, Objective
from quizzes.models import Item, ItemVersion, Option, Quiz
from quizzes.selectors import item_analysis_get

POOL = 60
PER_ATTEMPT = 20
UNUSABLE = "!"  # an unusable password hash: benchmark learners cannot log in


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Generate a realistic volume of attempts in a rolled-back transaction and time item analysis."

    def add_arguments(self, parser):
        parser.add_argument("--learners", type=int, default=10_000)
        parser.add_argument("--attempts", type=int, default=200_000)
        parser.add_argument("--quizzes", type=int, default=10, help="Quizzes the attempts are spread over.")
        parser.add_argument("--runs", type=int, default=5)
        parser.add_argument("--keep", action="store_true", help="Commit the generated data.")

    def handle(self, *args, learners, attempts, quizzes, runs, keep, **options):
        if connection.vendor != "postgresql":
            raise CommandError("this benchmark needs PostgreSQL (set DATABASE_URL)")
        try:
            with transaction.atomic():
                target = self._generate(learners, attempts, quizzes)
                self._measure(target, runs)
                if not keep:
                    raise _Rollback
        except _Rollback:
            self.stdout.write("Rolled back the generated data (use --keep to commit it).")

    def _step(self, label: str, started: float) -> float:
        now = time.perf_counter()
        self.stdout.write(f"  {label}: {now - started:.1f} s")
        return now

    def _generate(self, n_learners: int, n_attempts: int, n_quizzes: int) -> Quiz:
        t = time.perf_counter()
        self.stdout.write(f"Generating {n_learners} learners, {n_attempts} attempts over {n_quizzes} quizzes ...")
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        course = Course.objects.create(
            slug=f"benchmark-{stamp}", title="Benchmark course", summary="-", description_html="",
            estimated_minutes=60, target_audience="-", release_date="2026-01-01", review_date="2026-01-01",
            expiry_date="2028-01-01", commercial_support="-", accreditation_notice="-",
            hardware_software="-", privacy="-", is_published=False,
        )
        lessons, objectives = [], []
        for position in range(1, n_quizzes + 1):
            lesson = Lesson.objects.create(course=course, slug=f"l{position}", position=position)
            LessonVersion.objects.create(
                lesson=lesson, number=1, title=f"L{position}", estimated_minutes=10, last_reviewed="2026-01-01",
                objectives=[], references=[], source="", body_html="", toc_html="", content_hash="-",
            )
            lessons.append(lesson)
            objectives.append(
                Objective.objects.create(course=course, lesson=lesson, key=f"L{position}.1", text="-", position=1)
            )
        versions = []
        for index in range(POOL):
            item = Item.objects.create(course=course, key=f"b{index}", pools=["posttest"])
            versions.append(
                ItemVersion(
                    item=item, number=1, type="single", stem="-", stem_html="<p>-</p>",
                    objective=objectives[index % len(objectives)], lesson=lessons[index % len(lessons)],
                    section="s", difficulty="medium", references=[], content_hash="-",
                )
            )
        versions = ItemVersion.objects.bulk_create(versions)
        Option.objects.bulk_create(
            Option(version=v, position=p, text_html="-", is_correct=p == 1, rationale_html="-")
            for v in versions
            for p in range(1, 5)
        )
        target = Quiz.objects.create(course=course, kind="posttest", title="Benchmark post-test", question_count=20)
        quiz_ids = [target.pk] + [
            Quiz.objects.create(course=course, kind="check", lesson=lessons[i], title=f"Check {i}").pk
            for i in range(n_quizzes - 1)
        ]
        users = User.objects.bulk_create(
            User(email=f"bench-{stamp}-{i}@example.invalid", full_name=f"Bench {i}", password=UNUSABLE)
            for i in range(n_learners)
        )
        user_ids = [u.pk for u in users]
        t = self._step("course, items, learners", t)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_v ON COMMIT DROP AS "
                "SELECT v.ord - 1 AS idx, v.id AS version_id, "
                "  (SELECT o.id FROM quizzes_option o WHERE o.version_id = v.id AND o.is_correct) AS correct_id, "
                "  ARRAY(SELECT o.id FROM quizzes_option o WHERE o.version_id = v.id AND NOT o.is_correct "
                "        ORDER BY o.position) AS wrong_ids "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS v(id, ord)",
                [[v.pk for v in versions]],
            )
            # Attempt g: learner g % L, quiz (g / L) % Q, number g / (L * Q) + 1: unique and dense.
            cursor.execute(
                """
                INSERT INTO quizzes_attempt (learner_id, quiz_id, number, seed, layout, started_at,
                    submitted_at, question_count, correct_count, score, passed)
                SELECT (%(users)s::bigint[])[g %% %(L)s + 1],
                       (%(quizzes)s::bigint[])[(g / %(L)s) %% %(Q)s + 1],
                       g / (%(L)s * %(Q)s) + 1, g, '[]'::jsonb,
                       now() - interval '30 days', now() - interval '30 days' + (g %% 1000) * interval '1 minute',
                       %(per)s, 0, 0, false
                FROM generate_series(0, %(A)s - 1) AS g
                """,
                {"users": user_ids, "quizzes": quiz_ids, "L": n_learners, "Q": n_quizzes, "A": n_attempts,
                 "per": PER_ATTEMPT},
            )
            t = self._step("attempts", t)
            # 20 distinct items per attempt (a random rotation of the pool); the chance of a
            # correct answer rises with the learner's ability and falls with item difficulty.
            cursor.execute(
                """
                INSERT INTO quizzes_response (attempt_id, item_version_id, position, confidence, is_correct)
                SELECT a.id, bv.version_id, k + 1, '',
                       random() < 1 / (1 + exp(-(((a.learner_id %% 100) / 25.0 - 1.5) - ((bv.idx %% 10) / 5.0 - 1))))
                FROM (SELECT id, learner_id, floor(random() * %(pool)s)::int AS s
                      FROM quizzes_attempt WHERE quiz_id = ANY(%(quizzes)s::bigint[])) AS a
                CROSS JOIN generate_series(0, %(per)s - 1) AS k
                JOIN bench_v bv ON bv.idx = (a.s + k) %% %(pool)s
                """,
                {"quizzes": quiz_ids, "pool": POOL, "per": PER_ATTEMPT},
            )
            t = self._step("responses", t)
            cursor.execute(
                """
                INSERT INTO quizzes_responsechoice (response_id, option_id)
                SELECT r.id, CASE WHEN r.is_correct THEN bv.correct_id
                                  ELSE bv.wrong_ids[1 + floor(random() * random() * 3)::int] END
                FROM quizzes_response r
                JOIN quizzes_attempt a ON a.id = r.attempt_id AND a.quiz_id = ANY(%(quizzes)s::bigint[])
                JOIN bench_v bv ON bv.version_id = r.item_version_id
                """,
                {"quizzes": quiz_ids},
            )
            t = self._step("chosen options", t)
            cursor.execute(
                """
                UPDATE quizzes_attempt a
                SET correct_count = s.c, score = round(100.0 * s.c / %(per)s, 2), passed = 100.0 * s.c / %(per)s >= 75
                FROM (SELECT attempt_id, count(*) FILTER (WHERE is_correct) AS c
                      FROM quizzes_response GROUP BY attempt_id) AS s
                WHERE a.id = s.attempt_id AND a.quiz_id = ANY(%(quizzes)s::bigint[])
                """,
                {"per": PER_ATTEMPT, "quizzes": quiz_ids},
            )
            for table in ("quizzes_attempt", "quizzes_response", "quizzes_responsechoice", "quizzes_option"):
                cursor.execute(f"ANALYZE {table}")  # noqa: S608 - fixed table names
            self._step("scores and ANALYZE", t)
        return target

    def _measure(self, quiz: Quiz, runs: int) -> None:
        timings = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as ctx:
                started = time.perf_counter()
                rows = item_analysis_get(quiz=quiz)
                timings.append(time.perf_counter() - started)
        responses = sum(r.stat.n for r in rows)
        self.stdout.write(
            f"Item analysis of the post-test: {len(rows)} item versions, {responses} first-attempt responses."
        )
        self.stdout.write(
            f"  {runs} runs: min {min(timings):.3f} s, median {statistics.median(timings):.3f} s, "
            f"max {max(timings):.3f} s; {len(ctx.captured_queries)} queries per run"
        )
        flagged = sum(1 for r in rows if r.stat.flags)
        self.stdout.write(f"  {flagged} items flagged")
        with connection.cursor() as cursor:
            for query in ctx.captured_queries:
                self.stdout.write(f"\n  [{query['time']} s] {query['sql'][:300]}")
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " + query["sql"])
                for (line,) in cursor.fetchall()[:12]:
                    self.stdout.write(f"      {line}")
