"""Export jobs under real concurrency (PostgreSQL): two workers, one job, one run."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

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
