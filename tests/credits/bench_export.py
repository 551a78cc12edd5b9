"""Benchmark: peak memory of the streamed completions export as the row count grows.

    .venv/bin/python -m tests.credits.bench_export            # 10,000 / 50,000 / 100,000 rows
    .venv/bin/python -m tests.credits.bench_export 1000 5000

Uses a throw-away SQLite file unless DATABASE_URL is set (then a database
you can fill and drop). Rows are inserted with bulk_create, then the export is
consumed line by line, as StreamingHttpResponse does, under tracemalloc; the
peak should stay flat (one chunk of rows) whatever the count.
test_exports.py runs `peak_kib` on small counts.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal


def rows_insert(n: int) -> None:
    """n learners, each with one AMA claim on one activity (bulk inserts, no services)."""
    from django.utils import timezone

    from accounts.models import User
    from credits.models import Claim, CreditType
    from tests.credits.factories import DesignationFactory

    designation = DesignationFactory()
    start = User.objects.count()
    User.objects.bulk_create(
        (User(email=f"bench{start + i}@example.org", full_name=f"Bench Learner {i}", password="!")
         for i in range(n)),
        batch_size=5000,
    )
    learners = User.objects.filter(email__startswith="bench").order_by("pk").values_list("pk", flat=True)[start:]
    now = timezone.now()
    Claim.objects.bulk_create(
        (Claim(learner_id=pk, activity_id=designation.activity_id, designation=designation,
               credit_type=CreditType.AMA_PRA_1, hours=Decimal("1.50"), completed_on=now.date(),
               full_name=f"Bench Learner {pk}", profession="physician", npi="1234567893", attested_at=now,
               created_by_id=pk)
         for pk in learners.iterator(chunk_size=5000)),
        batch_size=5000,
    )


def peak_kib() -> tuple[int, int, float]:
    """Consume the whole completions export; return (rows, peak KiB allocated, seconds)."""
    from credits import exports

    report = exports.completions(date_from=dt.date.min, date_to=dt.date.max)
    tracemalloc.start()
    began, lines, size = time.perf_counter(), 0, 0
    for line in exports.csv_lines(report):
        lines += 1
        size += len(line)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines - 1, peak // 1024, time.perf_counter() - began


def main(counts: list[int]) -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    total = 0
    print(f"{'rows':>8} {'peak KiB':>9} {'seconds':>8}")
    for count in sorted(counts):
        rows_insert(count - total)
        total = count
        rows, peak, seconds = peak_kib()
        print(f"{rows:>8} {peak:>9} {seconds:>8.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 50_000, 100_000])
