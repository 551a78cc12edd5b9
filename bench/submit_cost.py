"""In-process cost of one post-test submission (issue #8): median ms and queries of attempt_submit.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<name> .venv/bin/python -m bench.submit_cost [runs]

Creates a throwaway test database (test_<name>), a 20-question post-test,
then `runs` times starts an attempt and times `attempt_submit` with every
question answered (half right, so each attempt fails and the next may start).
Only the submit is timed; the start is set-up. Prints the median, p95,
the submit's query count and the median time of its UPDATEs of responses. Nothing leaves the process.
"""

from __future__ import annotations

import os
import statistics
import sys
import time


def main(runs: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from quizzes import grading
        from quizzes.services import attempt_start, attempt_submit
        from tests.factories import UserFactory
        from tests.quizzes.factories import key_of, quiz_with_items

        quiz = quiz_with_items(20, attempt_limit=None, wait_minutes=0, pass_mark=90)
        learner = UserFactory()
        times, queries, writes = [], [], []
        for _ in range(runs):
            attempt = attempt_start(learner=learner, quiz=quiz)
            key = key_of(attempt)
            answers = [
                grading.Answer(v, frozenset(k["correct"] if i % 2 else {min(k["wrong"])}))
                for i, (v, k) in enumerate(key.items())
            ]
            connection.queries_log.clear()  # the log keeps 9000 queries; counts need a fresh one
            with CaptureQueriesContext(connection) as ctx:
                began = time.perf_counter()
                attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)
                times.append((time.perf_counter() - began) * 1000)
            queries.append(len(ctx.captured_queries))
            # The database time of the statements that write the responses (answers, verdicts).
            writes.append(sum(float(q["time"]) * 1000 for q in ctx.captured_queries
                              if q["sql"].startswith('UPDATE "quizzes_response"')))
        times.sort()
        print(
            f"{connection.vendor} ({name}): {runs} submits of 20 questions: median {statistics.median(times):.2f} ms, "
            f"p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms, queries per submit {sorted(set(queries))}, "
            f"response UPDATEs median {statistics.median(writes):.2f} ms"
        )
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
