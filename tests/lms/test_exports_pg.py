"""Export jobs under real concurrency (PostgreSQL): two workers, one job, one run."""

import datetime as dt
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from lms.exports import services
from lms.models import ExportJob
from tests.quizzes.factories import course_dir_write


def _together(target, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(name):
        try:
            barrier.wait()
            results.append(target(name))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"worker-{i}",)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_get_one_job_once():
    job = services.export_job_request(kind="qti", parameters={"course": "x"}, requested_by=None)
    claims = _together(lambda name: services.export_job_claim(worker=name))
    assert sorted(c is None for c in claims) == [False, True]
    job.refresh_from_db()
    assert (job.state, job.runs) == ("running", 1)
    assert job.claimed_by == next(c for c in claims if c is not None).claimed_by


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_build_each_job_exactly_once(tmp_path, settings):
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports-root"
    call_command(
        "load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")), stdout=StringIO()
    )
    for version in ("2.1", "3.0", "2.1"):
        services.export_job_request(
            kind="qti", parameters={"course": "quiz-course", "version": version}, requested_by=None
        )
    ran = _together(lambda name: services.export_jobs_run_once(worker=name, limit=10))
    assert sum(ran) == 3
    assert set(ExportJob.objects.values_list("state", "runs")) == {("done", 1)}
    assert len([p for p in settings.LMS_EXPORTS_ROOT.rglob("*") if p.is_file()]) == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_expiring_at_once_expire_each_job_once(tmp_path, settings):
    """Each worker takes the due jobs the other has not locked (SKIP LOCKED): every job is expired
    by exactly one of them, and every file goes, whoever's walk gets there."""
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports-root"
    call_command(
        "load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")), stdout=StringIO()
    )
    for _ in range(6):
        services.export_job_request(kind="qti", parameters={"course": "quiz-course"}, requested_by=None)
    services.export_jobs_run_once(worker="builder", limit=10)
    ExportJob.objects.update(finished_at=timezone.now() - dt.timedelta(hours=settings.LMS_EXPORT_RETENTION_HOURS + 1))
    housekeeping = _together(lambda name: services.export_files_expire())
    assert sum(h.expired for h in housekeeping) == 6
    assert set(ExportJob.objects.values_list("state", "file")) == {("expired", "")}
    assert [p for p in settings.LMS_EXPORTS_ROOT.rglob("*") if p.is_file()] == []
