"""Export jobs (issue #7, section 8): lifecycle and progress, the same file as the
management command, failure and crash recovery, the workers, the staff pages'
permissions, and the status JSON contract.

The PostgreSQL-only claim race is in test_exports_pg.py.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from http import HTTPStatus
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from credits import services as credit_services
from lms.exports import services
from lms.models import ExportJob
from tests.credits.factories import activity_with_course, claim_input, everything_complete
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write

COURSE = "quiz-course"
WORKER = "test-worker"


@pytest.fixture(autouse=True)
def exports_root(settings, tmp_path):
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports-root"
    return settings.LMS_EXPORTS_ROOT


@pytest.fixture
def course(db, tmp_path):
    call_command(
        "load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")), stdout=StringIO()
    )
    return COURSE


@pytest.fixture
def every_write(monkeypatch):
    """Write every progress report (no throttling), so each one can be observed."""
    monkeypatch.setattr(services, "PROGRESS_WRITE_SECONDS", 0)


def _perm(codename: str) -> Permission:
    """lms's answer-key permission, or credits' credit-report one (credits owns the reports)."""
    app = "credits" if codename == "export_credit_report" else "lms"
    return Permission.objects.get(content_type__app_label=app, codename=codename)


def _staff(*codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*[_perm(c) for c in codenames])
    return user


def _members(data: bytes) -> dict[str, bytes]:
    """A zip's files: zips written at different seconds differ only in member timestamps."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _run(job: ExportJob, **kwargs) -> tuple[ExportJob, list[tuple]]:
    """Claim and run `job`, recording the progress stored in its row after each write."""
    seen = []

    def listener(_done, _total):
        seen.append(ExportJob.objects.values_list("state", "progress_done", "progress_total").get(pk=job.pk))

    claimed = services.export_job_claim(worker=WORKER)
    assert claimed.pk == job.pk
    return services.export_job_run(job=claimed, worker=WORKER, listener=listener, **kwargs), seen


# --- lifecycle ---------------------------------------------------------------------------


def test_qti_job_goes_queued_running_done_with_monotonic_progress(course, every_write):
    job = services.export_job_request(
        kind="qti", parameters={"course": COURSE, "version": "2.1"}, requested_by=_staff("export_answer_keys")
    )
    assert (job.state, job.progress_done, job.progress_total) == ("queued", 0, None)
    job, seen = _run(job)
    assert {state for state, _, _ in seen} == {"running"}
    done_values = [done for _, done, _ in seen]
    assert done_values == sorted(done_values) and len(set(done_values)) == len(done_values) > 3
    total = seen[0][2]
    assert all(t == total for _, _, t in seen) and done_values[-1] == total
    assert (job.state, job.progress_done, job.progress_total, job.error) == ("done", total, total, "")
    assert job.started_at <= job.finished_at and job.size == job.file.size > 0
    assert job.filename == "quiz-course-qti21.zip" and job.runs == 1


def test_qti_job_file_is_what_export_qti_writes(course, tmp_path):
    job = services.export_job_request(
        kind="qti", parameters={"course": COURSE, "version": "3.0"}, requested_by=None
    )
    job, _ = _run(job)
    target = tmp_path / "command.zip"
    call_command("export_qti", COURSE, "--version", "3.0", "--output", str(target), stdout=StringIO())
    with job.file.open("rb") as stored:
        assert _members(stored.read()) == _members(target.read_bytes())


def test_offline_scorm_job_file_is_what_export_scorm_writes(course, tmp_path, every_write):
    job = services.export_job_request(
        kind="scorm",
        parameters={"course": COURSE, "version": "2004", "mode": "self-contained"},
        requested_by=None,
    )
    job, seen = _run(job)
    assert [done for _, done, _ in seen] == list(
        range(1, seen[-1][2] + 1)
    )  # one step per lesson, then the zip
    target = tmp_path / "command.zip"
    call_command(
        "export_scorm",
        COURSE,
        "--version",
        "2004",
        "--mode",
        "self-contained",
        "--output",
        str(target),
        stdout=StringIO(),
    )
    with job.file.open("rb") as stored:
        assert _members(stored.read()) == _members(target.read_bytes())


def test_credit_report_job_file_equals_the_command_csv_byte_for_byte(db, tmp_path):
    activity = activity_with_course()
    for _ in range(3):
        learner = UserFactory()
        everything_complete(learner, activity)
        credit_services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input())
    job = services.export_job_request(
        kind="credit_report", parameters={"report": "completions"}, requested_by=None
    )
    job, seen = _run(job)
    assert seen[-1] == ("running", 3, None)  # the row count, total unknown while streaming
    assert (job.state, job.progress_done, job.progress_total) == ("done", 3, 3)
    target = tmp_path / "completions.csv"
    call_command("export_credit_report", "completions", "--output", str(target))
    with job.file.open("rb") as stored:
        assert stored.read() == target.read_bytes()


def test_the_export_commands_print_progress(course, tmp_path):
    out = StringIO()
    call_command("export_qti", COURSE, "--output", str(tmp_path / "q.zip"), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("documents: 1/") and any("(100%)" in line for line in lines)
    out = StringIO()
    call_command(
        "export_scorm", COURSE, "--mode", "self-contained", "--output", str(tmp_path / "s.zip"), stdout=out
    )
    assert "lessons: " in out.getvalue() and "(100%)" in out.getvalue()


# --- failure and recovery ----------------------------------------------------------------------


def test_a_job_for_an_unknown_course_fails_with_the_reason(db):
    job = services.export_job_request(kind="qti", parameters={"course": "no-such-course"}, requested_by=None)
    job, _ = _run(job)
    assert job.state == "failed" and job.error == "No course with slug 'no-such-course'."
    assert not job.file and job.finished_at is not None


def test_an_unexpected_error_fails_the_job_and_spares_the_worker(course, exports_root):
    exports_root.parent.mkdir(parents=True, exist_ok=True)
    exports_root.write_text("a file where the exports folder should be")
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    job, _ = _run(job)
    assert job.state == "failed" and job.error.startswith("Unexpected error (")


def test_a_stale_running_job_is_requeued_once_then_failed(course, settings):
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.LMS_EXPORT_STALE_SECONDS + 1)
    services.export_job_claim(worker="crashed-1")
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    assert services.export_jobs_recover() == (1, 0)
    job.refresh_from_db()
    assert (job.state, job.claimed_by, job.message) == (
        "queued",
        "",
        "Re-queued: the worker running it stopped reporting",
    )
    services.export_job_claim(worker="crashed-2")
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    assert services.export_jobs_recover() == (0, 1)
    job.refresh_from_db()
    assert job.state == "failed" and "stopped reporting progress" in job.error and job.runs == 2


def test_a_recent_running_job_is_left_alone(course):
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    services.export_job_claim(worker="busy")
    assert services.export_jobs_recover() == (0, 0)
    job.refresh_from_db()
    assert job.state == "running"


def test_a_slow_worker_whose_job_was_requeued_keeps_no_file(course, settings, exports_root):
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    slow = services.export_job_claim(worker="slow")
    ExportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(seconds=settings.LMS_EXPORT_STALE_SECONDS + 1)
    )
    services.export_jobs_recover()
    fresh = services.export_job_claim(worker="fresh")
    services.export_job_run(job=slow, worker="slow")  # finishes late: the job is no longer its own
    assert ExportJob.objects.get(pk=job.pk).state == "running"
    assert not any(p.is_file() for p in exports_root.rglob("*"))
    done = services.export_job_run(job=fresh, worker="fresh")
    assert done.state == "done" and done.claimed_by == "fresh"
    assert [p.name for p in exports_root.rglob("*") if p.is_file()] == ["quiz-course-qti21.zip"]


# --- workers ---------------------------------------------------------------------------------


def test_run_export_jobs_once_runs_every_queued_job(course):
    for version in ("2.1", "3.0"):
        services.export_job_request(
            kind="qti", parameters={"course": COURSE, "version": version}, requested_by=None
        )
    out = StringIO()
    call_command("run_export_jobs", "--once", "--worker", "w1", stdout=out)
    assert list(ExportJob.objects.values_list("state", "claimed_by")) == [("done", "w1"), ("done", "w1")]
    assert out.getvalue().count(": export job ") == 2


def test_deliver_outbox_runs_one_export_job_per_pass(course):
    first = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    second = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    call_command("deliver_outbox", "--once", stdout=StringIO())
    assert ExportJob.objects.get(pk=first.pk).state == "done"
    assert ExportJob.objects.get(pk=second.pk).state == "queued"


def test_deliver_outbox_no_exports_leaves_jobs_queued(course):
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    call_command("deliver_outbox", "--once", "--no-exports", stdout=StringIO())
    assert ExportJob.objects.get(pk=job.pk).state == "queued"


# --- pages and permissions ------------------------------------------------------------------


START_CASES = {
    "qti": {"kind": "qti", "qti-course": COURSE, "qti-version": "2.1"},
    "scorm-offline": {
        "kind": "scorm",
        "scorm-course": COURSE,
        "scorm-version": "1.2",
        "scorm-mode": "self-contained",
    },
    "scorm-connected": {
        "kind": "scorm",
        "scorm-course": COURSE,
        "scorm-version": "1.2",
        "scorm-mode": "connected",
    },
    "credit-report": {"kind": "credit_report", "report-report": "completions"},
}


@pytest.mark.parametrize(
    ("case", "codenames", "expected"),
    [
        ("qti", (), HTTPStatus.FORBIDDEN),  # an author: staff, but no answer-key permission
        ("qti", ("export_answer_keys",), HTTPStatus.FOUND),
        ("qti", ("export_credit_report",), HTTPStatus.FORBIDDEN),
        ("scorm-offline", (), HTTPStatus.FORBIDDEN),  # carries the knowledge-check keys
        ("scorm-offline", ("export_answer_keys",), HTTPStatus.FOUND),
        ("scorm-connected", (), HTTPStatus.FOUND),  # no content, no key: staff suffice
        ("credit-report", (), HTTPStatus.FORBIDDEN),
        ("credit-report", ("export_answer_keys",), HTTPStatus.FORBIDDEN),
        ("credit-report", ("export_credit_report",), HTTPStatus.FOUND),
    ],
)
def test_starting_an_export_needs_its_permission(course, client, case, codenames, expected):
    client.force_login(_staff(*codenames))
    response = client.post(reverse("lms_exports:start"), START_CASES[case])
    assert response.status_code == expected
    assert ExportJob.objects.count() == (1 if expected == HTTPStatus.FOUND else 0)
    if expected == HTTPStatus.FOUND:
        job = ExportJob.objects.get()
        assert response["Location"] == reverse("lms_exports:job_detail", args=[job.pk])
        assert job.state == "queued"


def test_a_connected_scorm_job_names_the_site_it_was_started_from(course, client):
    client.force_login(_staff())
    client.post(reverse("lms_exports:start"), START_CASES["scorm-connected"])
    assert ExportJob.objects.get().parameters["server_url"] == "http://testserver"


def test_learners_cannot_start_exports(course, learner_client):
    response = learner_client.post(reverse("lms_exports:start"), START_CASES["qti"])
    assert response.status_code == HTTPStatus.NOT_FOUND and ExportJob.objects.count() == 0


def test_the_index_offers_only_the_exports_one_may_start(course, client):
    client.force_login(_staff())
    page = client.get(reverse("lms_exports:index")).content.decode()
    assert 'value="scorm"' in page and 'value="qti"' not in page and 'value="credit_report"' not in page
    assert 'value="self-contained"' not in page
    client.force_login(_staff("export_answer_keys", "export_credit_report"))
    page = client.get(reverse("lms_exports:index")).content.decode()
    assert all(f'value="{kind}"' in page for kind in ("qti", "scorm", "credit_report", "self-contained"))


@pytest.fixture
def done_job(course):
    requester = _staff("export_answer_keys")
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=requester)
    job, _ = _run(job)
    return job


JOB_VIEWS = ["lms_exports:job_detail", "lms_exports:job_status", "lms_exports:job_download"]


@pytest.mark.parametrize("view", JOB_VIEWS)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("requester", HTTPStatus.OK),
        ("author", HTTPStatus.FORBIDDEN),  # staff without the permission, not the requester
        ("keyholder", HTTPStatus.OK),  # staff with the permission
        ("learner", HTTPStatus.NOT_FOUND),
    ],
)
def test_who_may_see_and_download_a_job(done_job, client, view, who, expected):
    users = {
        "requester": done_job.requested_by,
        "author": _staff(),
        "keyholder": _staff("export_answer_keys"),
        "learner": UserFactory(),
    }
    client.force_login(users[who])
    response = client.get(reverse(view, args=[done_job.pk]))
    assert response.status_code == expected
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert (b"PK\x03\x04" in body[:4]) == (expected == HTTPStatus.OK and view == "lms_exports:job_download")


def test_the_download_is_the_stored_file_not_cached(done_job, client):
    client.force_login(done_job.requested_by)
    response = client.get(reverse("lms_exports:job_download", args=[done_job.pk]))
    with done_job.file.open("rb") as stored:
        assert b"".join(response.streaming_content) == stored.read()
    assert "no-store" in response["Cache-Control"] and response["Content-Type"] == "application/zip"
    assert 'filename="quiz-course-qti21.zip"' in response["Content-Disposition"]


def test_an_anonymous_visitor_is_sent_to_log_in(done_job, client):
    response = client.get(reverse("lms_exports:job_download", args=[done_job.pk]))
    assert response.status_code == HTTPStatus.FOUND and "/accounts/login/" in response["Location"]
    assert (
        client.get(reverse("lms_exports:job_status", args=[done_job.pk])).status_code
        == HTTPStatus.UNAUTHORIZED
    )


def test_a_job_without_a_file_has_no_download(course, client):
    requester = _staff("export_answer_keys")
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=requester)
    client.force_login(requester)
    assert client.get(reverse("lms_exports:job_download", args=[job.pk])).status_code == HTTPStatus.NOT_FOUND


def test_the_job_page_has_a_labelled_progress_bar_and_live_status(done_job, client):
    client.force_login(done_job.requested_by)
    page = client.get(reverse("lms_exports:job_detail", args=[done_job.pk])).content.decode()
    assert '<label for="export-progress">' in page and '<progress id="export-progress"' in page
    assert 'role="status" aria-live="polite"' in page
    assert "/static/js/export-job.js" in page and "<script>" not in page  # no inline script (CSP)


# --- the direct downloads, now permission-checked ----------------------------------------------


@pytest.mark.parametrize(
    ("codenames", "expected"), [((), HTTPStatus.FORBIDDEN), (("export_answer_keys",), HTTPStatus.OK)]
)
def test_direct_qti_download_needs_the_answer_key_permission(course, client, codenames, expected):
    client.force_login(_staff(*codenames))
    response = client.get(reverse("lms_qti:export", args=[COURSE]))
    assert response.status_code == expected
    assert (b"imsmanifest" in response.content) == (expected == HTTPStatus.OK)


@pytest.mark.parametrize(
    ("mode", "codenames", "expected"),
    [
        ("self-contained", (), HTTPStatus.FORBIDDEN),
        ("self-contained", ("export_answer_keys",), HTTPStatus.OK),
        ("connected", (), HTTPStatus.OK),
    ],
)
def test_direct_scorm_download_needs_the_permission_for_keys(course, client, mode, codenames, expected):
    client.force_login(_staff(*codenames))
    response = client.get(reverse("lms_scorm:export", args=[COURSE]), {"mode": mode})
    assert response.status_code == expected


# --- the status JSON -------------------------------------------------------------------------

STATUS_KEYS = {
    "id",
    "kind",
    "state",
    "done",
    "total",
    "percent",
    "message",
    "error",
    "filename",
    "size",
    "download_url",
    "finished",
}


def test_status_json_of_a_queued_job(course, client):
    requester = _staff("export_answer_keys")
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=requester)
    client.force_login(requester)
    data = client.get(reverse("lms_exports:job_status", args=[job.pk])).json()
    assert data == {
        "id": job.pk,
        "kind": "qti",
        "state": "queued",
        "done": 0,
        "total": None,
        "percent": None,
        "message": "Waiting for a worker",
        "error": "",
        "filename": "",
        "size": None,
        "download_url": None,
        "finished": False,
    }


def test_status_json_of_a_running_job(course, client):
    requester = _staff("export_answer_keys")
    job = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=requester)
    services.export_job_claim(worker=WORKER)
    ExportJob.objects.filter(pk=job.pk).update(
        progress_done=3, progress_total=12, message="3 of 12 documents"
    )
    client.force_login(requester)
    data = client.get(reverse("lms_exports:job_status", args=[job.pk])).json()
    assert (data["state"], data["done"], data["total"], data["percent"], data["finished"]) == (
        "running",
        3,
        12,
        25,
        False,
    )
    assert data["download_url"] is None


def test_status_json_of_a_done_job_links_the_download(done_job, client):
    client.force_login(done_job.requested_by)
    response = client.get(reverse("lms_exports:job_status", args=[done_job.pk]))
    data = response.json()
    assert set(data) == STATUS_KEYS
    assert (data["state"], data["percent"], data["finished"], data["size"]) == (
        "done",
        100,
        True,
        done_job.size,
    )
    assert data["download_url"] == reverse("lms_exports:job_download", args=[done_job.pk])
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_status_json_of_a_failed_job_carries_the_error(db, client):
    requester = _staff("export_answer_keys")
    job = services.export_job_request(kind="qti", parameters={"course": "gone"}, requested_by=requester)
    _run(job)
    client.force_login(requester)
    data = client.get(reverse("lms_exports:job_status", args=[job.pk])).json()
    assert (data["state"], data["finished"], data["download_url"]) == ("failed", True, None)
    assert data["error"] == "No course with slug 'gone'."


@pytest.mark.parametrize("state", ["queued", "done"])
def test_status_endpoint_query_count_is_constant(done_job, client, django_assert_num_queries, state):
    """Session, user, job: the same three queries whatever the job's state or size."""
    job = (
        done_job
        if state == "done"
        else services.export_job_request(
            kind="qti", parameters={"course": COURSE}, requested_by=done_job.requested_by
        )
    )
    client.force_login(done_job.requested_by)
    with django_assert_num_queries(3):
        assert client.get(reverse("lms_exports:job_status", args=[job.pk])).status_code == HTTPStatus.OK


def test_status_endpoint_for_a_permission_holder_adds_the_permission_queries(
    done_job, client, django_assert_num_queries
):
    client.force_login(_staff("export_answer_keys"))
    with django_assert_num_queries(5):  # session, user, job, user and group permissions
        assert client.get(reverse("lms_exports:job_status", args=[done_job.pk])).status_code == HTTPStatus.OK


# --- the admin -------------------------------------------------------------------------------


def test_admin_lists_jobs_with_a_start_button_and_download_links(done_job, client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:lms_exportjob_changelist")).content.decode()
    assert f'href="{reverse("lms_exports:index")}"' in page and "Start an export" in page
    assert f'href="{reverse("lms_exports:job_download", args=[done_job.pk])}"' in page


def test_admin_run_again_queues_a_copy_only_with_the_permission(done_job, client):
    viewer = _staff()
    viewer.user_permissions.add(_perm("view_exportjob"))
    client.force_login(viewer)
    changelist = reverse("admin:lms_exportjob_changelist")
    client.post(changelist, {"action": "run_again", "_selected_action": [done_job.pk]})
    assert ExportJob.objects.count() == 1  # refused: a QTI package needs the answer-key permission
    viewer.user_permissions.add(_perm("export_answer_keys"))
    client.post(changelist, {"action": "run_again", "_selected_action": [done_job.pk]})
    copy = ExportJob.objects.exclude(pk=done_job.pk).get()
    assert (copy.state, copy.parameters, copy.requested_by) == ("queued", done_job.parameters, viewer)


# --- retention: files are deleted LMS_EXPORT_RETENTION_HOURS after they are made ----------------


def _age(job: ExportJob, hours: float) -> None:
    """Make `job` look finished `hours` ago (its row; the file keeps its own time)."""
    ExportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - dt.timedelta(hours=hours))


def _old_file(path, hours: float) -> None:
    """Give a file (or folder) on disk a modification time `hours` ago."""
    then = (timezone.now() - dt.timedelta(hours=hours)).timestamp()
    os.utime(path, (then, then))


def _files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_done_job_past_the_retention_loses_its_file_and_keeps_its_row(done_job, settings, exports_root):
    stored = exports_root / done_job.file.name
    assert stored.is_file()
    _age(done_job, settings.LMS_EXPORT_RETENTION_HOURS + 1)
    assert services.export_files_expire() == services.Housekeeping(expired=1, orphans=0)
    job = ExportJob.objects.get(pk=done_job.pk)
    assert (job.state, job.file.name) == ("expired", "")
    assert (job.filename, job.size, job.requested_by) == (done_job.filename, done_job.size, done_job.requested_by)
    assert job.message == "File deleted after 72 hours. Start the export again for a new copy."
    assert not stored.exists() and _files(exports_root) == []
    assert services.export_files_expire() == services.Housekeeping()  # nothing left to do


def test_jobs_within_the_retention_and_unfinished_jobs_are_left_alone(done_job, settings, exports_root):
    _age(done_job, settings.LMS_EXPORT_RETENTION_HOURS - 1)
    failed = services.export_job_request(kind="qti", parameters={"course": "gone"}, requested_by=None)
    _run(failed)
    _age(failed, settings.LMS_EXPORT_RETENTION_HOURS + 1)
    queued = services.export_job_request(kind="qti", parameters={"course": COURSE}, requested_by=None)
    assert services.export_files_expire() == services.Housekeeping()
    assert dict(ExportJob.objects.values_list("pk", "state")) == {
        done_job.pk: "done", failed.pk: "failed", queued.pk: "queued",
    }
    assert _files(exports_root) == [done_job.file.name]


def test_the_retention_follows_the_setting(done_job, settings, exports_root):
    settings.LMS_EXPORT_RETENTION_HOURS = 2
    _age(done_job, 3)
    assert services.export_files_expire().expired == 1
    assert "deleted after 2 hours" in ExportJob.objects.get(pk=done_job.pk).message


def test_an_expired_job_downloads_as_410_with_the_reason(done_job, settings, client):
    _age(done_job, settings.LMS_EXPORT_RETENTION_HOURS + 1)
    services.export_files_expire()
    client.force_login(done_job.requested_by)
    response = client.get(reverse("lms_exports:job_download", args=[done_job.pk]))
    assert response.status_code == HTTPStatus.GONE
    page = response.content.decode()
    assert "no longer kept" in page and "deleted 72 hours after they are made" in page
    status = client.get(reverse("lms_exports:job_status", args=[done_job.pk])).json()
    assert (status["state"], status["finished"], status["download_url"]) == ("expired", True, None)
    detail = client.get(reverse("lms_exports:job_detail", args=[done_job.pk])).content.decode()
    assert "Expired: File deleted after 72 hours. Start the export again for a new copy." in detail
    assert "<p data-export-download hidden>" in detail
    index = client.get(reverse("lms_exports:index")).content.decode()
    assert reverse("lms_exports:job_download", args=[done_job.pk]) not in index
    # Expiry changes nothing about who may ask: others still get 403 or 404, not the 410 page.
    client.force_login(_staff())
    assert client.get(reverse("lms_exports:job_download", args=[done_job.pk])).status_code == HTTPStatus.FORBIDDEN


def test_a_done_job_whose_file_is_gone_downloads_as_410_not_500(done_job, client, exports_root):
    (exports_root / done_job.file.name).unlink()  # a worker expired it after the view read the row
    client.force_login(done_job.requested_by)
    response = client.get(reverse("lms_exports:job_download", args=[done_job.pk]))
    assert response.status_code == HTTPStatus.GONE and "no longer kept" in response.content.decode()


def test_files_no_job_holds_are_deleted_once_older_than_the_retention(done_job, settings, exports_root):
    hours = settings.LMS_EXPORT_RETENTION_HOURS
    old_orphan = exports_root / "job-9001" / "report.csv"
    young_orphan = exports_root / "job-9002" / "report.csv"  # a worker's export about to be recorded
    for path in (old_orphan, young_orphan):
        path.parent.mkdir(parents=True)
        path.write_text("name,date of birth\n")
    _old_file(old_orphan, hours + 1)
    _old_file(old_orphan.parent, hours + 1)
    _old_file(exports_root / done_job.file.name, hours + 1)  # old on disk, but its job is recent: held
    assert services.export_files_expire() == services.Housekeeping(expired=0, orphans=1)
    assert _files(exports_root) == sorted([done_job.file.name, "job-9002/report.csv"])
    assert not old_orphan.parent.exists() and young_orphan.parent.is_dir()


def test_a_crash_between_expiring_a_job_and_deleting_its_file_is_cleaned_up_later(
    done_job, settings, exports_root, monkeypatch
):
    hours = settings.LMS_EXPORT_RETENTION_HOURS
    stored = exports_root / done_job.file.name
    _age(done_job, hours + 1)
    _old_file(stored, hours + 1)
    storage = type(ExportJob._meta.get_field("file").storage)

    def crash(self, name):
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(storage, "delete", crash)
    with pytest.raises(SystemExit):
        services.export_files_expire()
    # The row was committed first: no download opens the file from now on.
    assert ExportJob.objects.get(pk=done_job.pk).state == "expired" and stored.is_file()
    monkeypatch.undo()
    assert services.export_files_expire() == services.Housekeeping(expired=0, orphans=1)
    assert _files(exports_root) == []


@pytest.mark.parametrize("command", [["run_export_jobs", "--once"], ["deliver_outbox", "--once"]])
def test_the_workers_delete_expired_files_and_say_so(done_job, settings, exports_root, command):
    _age(done_job, settings.LMS_EXPORT_RETENTION_HOURS + 1)
    out = StringIO()
    call_command(*command, "--worker", "w1", stdout=out)
    assert ExportJob.objects.get(pk=done_job.pk).state == "expired" and _files(exports_root) == []
    assert "w1: export files deleted after 72 hours: 1 of expired jobs, 0 that no job held" in out.getvalue()


def test_a_looping_worker_expires_files_on_its_first_pass_then_once_an_interval(done_job, settings, exports_root):
    settings.LMS_EXPORT_HOUSEKEEPING_SECONDS = 300
    services.export_jobs_run_once(worker="w1")  # its first pass: the file is not old yet
    _age(done_job, settings.LMS_EXPORT_RETENTION_HOURS + 1)
    services.export_jobs_run_once(worker="w1")  # a pass a moment later: not due, the file stays
    assert ExportJob.objects.get(pk=done_job.pk).state == "done" and len(_files(exports_root)) == 1
    services.HOUSEKEEPING_CLOCK.done_at -= 301  # five minutes on
    services.export_jobs_run_once(worker="w1")
    assert ExportJob.objects.get(pk=done_job.pk).state == "expired" and _files(exports_root) == []


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_retention_under_an_hour_is_refused_at_start(value):
    env = {**os.environ, "LMS_EXPORT_RETENTION_HOURS": value, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(  # nosec B603: this interpreter, fixed arguments
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True,
        cwd=Path(__file__).resolve().parents[2], check=False,
    )
    assert result.returncode != 0
    assert "LMS_EXPORT_RETENTION_HOURS must be at least 1" in result.stderr
