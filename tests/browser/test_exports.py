"""In real Chromium: a staff member with the answer-key permission starts a QTI export,
watches the job page's progress bar move and finish (polled from the status
endpoint by static/js/export-job.js, under the site's strict CSP), and downloads
the file. The worker runs in the test's own thread, step by step: after a
progress write, the test waits until the page shows that value, so "the bar
moved" is observed, not assumed."""

import io
import zipfile
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from lms.exports import services
from tests.factories import UserFactory
from tests.quizzes.factories import course_dir_write

BAR = "document.querySelector('#export-progress')"


@pytest.fixture
def staff_with_keys(transactional_db, tmp_path, settings):
    settings.LMS_EXPORTS_ROOT = tmp_path / "exports-root"
    call_command(
        "load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")), stdout=StringIO()
    )
    user = UserFactory(is_staff=True, full_name="Exporting Staff")
    user.user_permissions.add(Permission.objects.get(codename="export_answer_keys"))
    return user


def test_start_an_export_watch_the_bar_and_download(
    page, live_server, staff_with_keys, assert_accessible, monkeypatch
):
    monkeypatch.setattr(services, "PROGRESS_WRITE_SECONDS", 0)  # write every step, so each can be watched
    csp_errors = []
    page.on(
        "console", lambda msg: csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail address").fill(staff_with_keys.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.locator("form").get_by_role("button", name="Log in").click()

    page.goto(live_server.url + "/staff/exports/")
    assert_accessible(page, "exports page")
    qti = page.locator(
        "section", has=page.get_by_role("heading", name="QTI question bank (with answer keys)")
    )
    qti.locator("#id_qti-course").select_option("quiz-course")
    qti.locator("#id_qti-version").select_option("2.1")
    qti.get_by_role("button", name="Start this export").click()

    page.wait_for_url("**/staff/exports/jobs/*/")
    status = page.get_by_role("status")
    assert "Queued" in status.inner_text()
    assert page.evaluate(f"{BAR}.hasAttribute('value')") is False  # indeterminate until the size is known
    assert page.get_by_label("Progress").is_visible()
    assert_accessible(page, "queued job page")

    shown = []

    def page_follows(done, total):
        # The page polls each second: wait until it shows this write, at the first steps and half-way.
        if done in (1, 2, total // 2):
            page.wait_for_function(f"d => {BAR}.value >= d", arg=done, timeout=10_000)
            shown.append(page.evaluate(f"[{BAR}.value, {BAR}.max]"))

    job = services.export_job_claim(worker="browser-test")
    services.export_job_run(job=job, worker="browser-test", listener=page_follows)

    link = page.get_by_role("link", name="Download quiz-course-qti21.zip")
    link.wait_for(timeout=10_000)
    assert "Done" in status.inner_text()
    final = page.evaluate(f"[{BAR}.value, {BAR}.max]")
    assert len(shown) == 3 and [v for v, _ in shown] == sorted(v for v, _ in shown)
    assert shown[0][0] < shown[-1][0] < final[0] == final[1]  # it moved, then it finished
    assert_accessible(page, "finished job page")

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "quiz-course-qti21.zip"
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as archive:  # noqa: SIM115
        assert "imsmanifest.xml" in archive.namelist()
        assert any(name.startswith("items/") for name in archive.namelist())
    assert csp_errors == []
