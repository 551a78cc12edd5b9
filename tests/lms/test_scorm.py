"""SCORM export (issue #7, section 6): ADL-valid manifests, and each package run in
headless Chromium inside the real scorm-again runtime (tests/lms/scorm_runtime/).

The browser tests skip without Chromium, with the reason and the fix, except in
CI (CI=true), where a missing browser fails, as in tests/browser/.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import zipfile
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from lxml import etree

from curriculum.models import Course, Lesson
from curriculum.services import lesson_progress_complete
from lms.models import ExternalLearner, Organisation
from lms.scorm import schemas, tokens
from lms.scorm.status import Progress, scorm_status
from quizzes import grading
from quizzes.models import Option, Quiz
from quizzes.services import attempt_start, attempt_submit
from tests.browser.conftest import accessibility_problems, axe_violations
from tests.factories import UserFactory
from tests.httpd import base_url, serving
from tests.quizzes.factories import course_dir_write

COURSE = "quiz-course"
RUNTIME = Path(__file__).parent / "scorm_runtime"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
HAS_CHROMIUM = Path(CHROMIUM).exists() or bool(shutil.which(CHROMIUM))
if not HAS_CHROMIUM and os.environ.get("CI"):
    raise RuntimeError(f"CI needs Chromium at {CHROMIUM} for the SCORM runtime tests (.ci/run installs it).")
_skip_without_chromium = pytest.mark.skipif(
    not HAS_CHROMIUM,
    reason=f"SCORM runtime tests did not run: no Chromium at {CHROMIUM}. "
    "Enable them with: sudo apt-get install chromium (or set CHROMIUM_PATH).",
)


def browser(test):
    """Marks a test that drives headless Chromium (the `browser` marker), skipped without it."""
    return pytest.mark.browser(_skip_without_chromium(test))


VERSIONS = ["1.2", "2004"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox", "--disable-gpu"]}


@pytest.fixture
def course(db, tmp_path):
    call_command("load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")))


def _export(tmp_path, version: str, mode: str, server_url: str = "https://ce.example.org") -> dict[str, bytes]:
    target = tmp_path / f"scorm-{version}-{mode}.zip"
    call_command(
        "export_scorm", COURSE, "--version", version, "--mode", mode, "--output", str(target),
        "--server-url", server_url,
    )
    with zipfile.ZipFile(target) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- manifests -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["connected", "self-contained"])
@pytest.mark.parametrize("version", VERSIONS)
def test_manifest_is_valid_against_adl_schemas(course, tmp_path, version, mode):
    files = _export(tmp_path, version, mode)
    assert schemas.manifest_errors(version, files["imsmanifest.xml"]) == []
    manifest = etree.fromstring(files["imsmanifest.xml"])
    listed = {f.get("href") for f in manifest.iter() if etree.QName(f).localname == "file"}
    assert listed == set(files) - {"imsmanifest.xml"}  # every file listed, every listed file present


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_check_rejects_a_broken_manifest(course, tmp_path, version):
    """The ADL check can fail: a resource without its SCORM type attribute's value is rejected."""
    manifest = etree.fromstring(_export(tmp_path, version, "connected")["imsmanifest.xml"])
    resource = next(r for r in manifest.iter() if etree.QName(r).localname == "resource")
    scorm_type = next(name for name in resource.attrib if name.lower().endswith("}scormtype"))
    resource.set(scorm_type, "lesson")
    assert schemas.manifest_errors(version, manifest) != []


def test_connected_package_holds_no_course_content_or_key(course, tmp_path):
    files = _export(tmp_path, "1.2", "connected")
    assert set(files) == {"imsmanifest.xml", "launch.html", "scorm-api.js", "connected.js", "package.css"}
    text = b"".join(files.values()).decode()
    assert "Placeholder rationale" not in text and "Placeholder stem" not in text


def test_self_contained_package_has_lessons_and_checks_but_no_posttest(course, tmp_path):
    files = _export(tmp_path, "2004", "self-contained")
    index = files["index.html"].decode()
    assert index.count('class="lesson"') == 2
    assert index.count('class="question"') == 4  # the four knowledge-check items
    assert "post-1-1" not in index and "pre-1" not in index  # no post-test or pre-test item
    assert "no post-test here and it earns no credit" in index


def test_bundled_course_offline_package_carries_its_figures_and_local_links(db, tmp_path):
    """Figures are copied into the package; links between lessons stay inside it."""
    call_command("load_curriculum")
    target = tmp_path / "bundled.zip"
    call_command("export_scorm", "kratom-for-clinicians", "--mode", "self-contained", "--output", str(target))
    with zipfile.ZipFile(target) as archive:
        names = set(archive.namelist())
        index = archive.read("index.html").decode()
    assert {"figures/alkaloids-metabolism.svg", "figures/interaction-mechanisms.svg"} <= names
    assert 'src="figures/alkaloids-metabolism.svg"' in index
    assert 'src="/static/' not in index and 'href="/' not in index
    assert 'href="#lesson-pharmacology"' in index or 'href="#lesson-pharmacology-' in index
    ids = re.findall(r'\sid="([^"]+)"', index)
    assert len(ids) == len(set(ids))  # every lesson's footnotes start at 1: ids are prefixed per lesson
    for href in set(re.findall(r'href="#([^"]+)"', index)):
        assert href in ids, f"in-page link to a missing anchor: #{href}"


def test_connected_export_needs_a_server_url(course, tmp_path):
    with pytest.raises(CommandError, match="server-url"):
        call_command("export_scorm", COURSE, "--server-url", "", "--output", str(tmp_path / "x.zip"))


# --- status mapping (pure) -------------------------------------------------------------


def test_status_is_incomplete_until_lessons_and_posttest_are_done():
    status = scorm_status(Progress(2, 1, 0, None, False, True))
    assert (status.lesson_status, status.completion_status, status.success_status) == (
        "incomplete", "incomplete", "unknown"
    )
    assert status.score_raw is None


def test_passing_the_posttest_after_all_lessons_is_passed_and_completed():
    status = scorm_status(Progress(2, 2, 1, grading.Decimal("85.00"), True, True))
    assert (status.lesson_status, status.completion_status, status.success_status) == (
        "passed", "completed", "passed"
    )
    assert (status.score_raw, status.progress_measure) == (85, 1.0)


def test_failing_the_last_allowed_attempt_is_failed():
    status = scorm_status(Progress(2, 2, 3, grading.Decimal("50"), False, False))
    assert (status.lesson_status, status.success_status) == ("failed", "failed")


# --- connected endpoints ---------------------------------------------------------------


def _package_token(version: str = "1.2") -> str:
    org, _ = Organisation.objects.get_or_create(slug="lms-a", defaults={"name": "LMS A"})
    return tokens.package_token(tokens.PackageClaim(course_slug=COURSE, organisation_id=org.pk, version=version))


def test_session_rejects_a_forged_package_token(course, client):
    response = client.get(reverse("lms_scorm:session"), {"package": "forged:token", "learner": "1"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["error"]["code"] == "bad_package"


def test_session_of_a_switched_off_organisation_is_refused(course, client):
    token = _package_token()
    Organisation.objects.filter(slug="lms-a").update(is_active=False)
    response = client.get(reverse("lms_scorm:session"), {"package": token, "learner": "1"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_launch_creates_one_account_per_lms_learner_and_opens_the_course(course, client):
    session = client.get(reverse("lms_scorm:session"), {"package": _package_token(), "learner": "7", "name": "A"})
    assert session["Access-Control-Allow-Origin"] == "*"
    launch = session.json()["launch_url"]
    first = client.get(launch)
    client.get(launch)
    assert first.status_code == HTTPStatus.FOUND
    assert first["Location"] == reverse("curriculum:course_detail", args=[COURSE])
    assert ExternalLearner.objects.filter(external_id="scorm:7").count() == 1


def test_status_carries_statuses_and_score_only(course, client):
    session = client.get(reverse("lms_scorm:session"), {"package": _package_token(), "learner": "8"}).json()
    client.get(session["launch_url"])
    data = client.get(session["status_url"]).json()
    assert set(data) == {
        "started", "lesson_status", "completion_status", "success_status", "score_raw", "progress_measure"
    }
    assert data["started"] is True and data["lesson_status"] == "incomplete"


@pytest.mark.parametrize("n_lessons_done", [0, 2])
def test_status_reads_a_fixed_number_of_queries(course, client, django_assert_num_queries, n_lessons_done):
    session = client.get(reverse("lms_scorm:session"), {"package": _package_token(), "learner": "9"}).json()
    client.get(session["launch_url"])
    learner = ExternalLearner.objects.get(external_id="scorm:9").user
    for lesson in Lesson.objects.filter(course__slug=COURSE)[:n_lessons_done]:
        lesson_progress_complete(learner=learner, lesson=lesson, served_token=None, max_minutes=60)
    with django_assert_num_queries(6):  # course, learner, lessons, progress, post-test, attempts
        client.get(session["status_url"])


@pytest.mark.parametrize(("version", "mode"), [("1.2", "connected"), ("2004", "self-contained")])
def test_staff_can_download_a_package(course, client, version, mode):
    staff = UserFactory(is_staff=True)  # self-contained carries keys: it needs the permission (test_exports.py)
    staff.user_permissions.add(Permission.objects.get(codename="export_answer_keys"))
    client.force_login(staff)
    response = client.get(reverse("lms_scorm:export", args=[COURSE]), {"version": version, "mode": mode})
    assert response.status_code == HTTPStatus.OK
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert schemas.manifest_errors(version, archive.read("imsmanifest.xml")) == []
        if mode == "connected":
            assert b'data-server="http://testserver"' in archive.read("launch.html")


def test_a_learner_cannot_download_a_package(course, learner_client):
    response = learner_client.get(reverse("lms_scorm:export", args=[COURSE]))
    assert response.status_code == HTTPStatus.FORBIDDEN


# --- the packages in the scorm-again runtime ---------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def lms_server(tmp_path):
    """A static 'LMS' on loopback: the scorm-again page, and packages unzipped under it."""
    root = tmp_path / "lms"
    root.mkdir()
    for name in ("lms.html", "lms.js", "scorm-again.min.js"):
        shutil.copy(RUNTIME / name, root / name)
    with serving(functools.partial(_QuietHandler, directory=str(root))) as server:
        yield root, base_url(server)


def _unzip(files: dict[str, bytes], folder: Path) -> None:
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)


def _open_in_lms(page, lms_server, files, version, suspend_data: str = ""):
    root, url = lms_server
    _unzip(files, root / "pkg")
    query = f"version={version}&package=pkg" + (f"&suspend_data={quote(suspend_data)}" if suspend_data else "")
    page.goto(f"{url}/lms.html?{query}")
    page.wait_for_function("window.lms && window.lms.launch !== null")
    frame = page.frame_locator("#sco")
    frame.locator("html[data-ready='1']").wait_for(state="attached")  # its script has run
    return frame


def _finished(page) -> dict:
    page.wait_for_function("window.lms.finished !== null")
    return page.evaluate("window.lms")


def _core(cmi: dict, version: str) -> dict:
    """(status, score, session time) as the runtime holds them, for either version."""
    if version == "1.2":
        core = cmi["core"]
        return {"status": core["lesson_status"], "raw": core["score"]["raw"], "time": core["session_time"]}
    return {
        "status": cmi["completion_status"], "success": cmi["success_status"], "raw": cmi["score"]["raw"],
        "scaled": cmi["score"]["scaled"], "time": cmi["session_time"],
    }


def _choose(frame, question: str, positions: list[int]) -> None:
    for position in positions:
        frame.locator(f"label[for='q-{question}-{position}']").click()
    frame.locator(f"#q-{question} button[type=submit]").click()


@browser
@pytest.mark.parametrize("version", VERSIONS)
def test_self_contained_package_reports_completion_score_and_time(course, tmp_path, page, lms_server, version):
    """Read both lessons, answer three of four checks right, finish: the runtime holds
    completed, a 75 knowledge-check score and a session time; never passed (no credit)."""
    files = _export(tmp_path, version, "self-contained")
    frame = _open_in_lms(page, lms_server, files, version)
    _choose(frame, "chk-1-1", [1])
    frame.locator("#q-chk-1-1 .rationale").first.wait_for()
    _choose(frame, "chk-1-2", [1])
    frame.locator("#lesson-lesson-one button.next").click()
    _choose(frame, "chk-2-1", [1])
    _choose(frame, "chk-2-2", [2])  # wrong
    _choose(frame, "chk-2-2", [1])  # a second try does not change the score
    frame.locator("#lesson-lesson-two button.finish").click()
    lms = _finished(page)
    got = _core(lms["finished"], version)
    assert lms["manifest"].encode() == files["imsmanifest.xml"]
    assert got["raw"] == "75"
    if version == "1.2":
        assert got["status"] == "completed"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", got["time"])
    else:
        assert (got["status"], got["success"], got["scaled"]) == ("completed", "unknown", "0.75")
        assert re.fullmatch(r"PT\d+H\d+M\d+S", got["time"])


@browser
@pytest.mark.parametrize("version", VERSIONS)
def test_self_contained_package_unfinished_reading_stays_incomplete(course, tmp_path, page, lms_server, version):
    files = _export(tmp_path, version, "self-contained")
    frame = _open_in_lms(page, lms_server, files, version)
    frame.locator("#lesson-lesson-one button.finish").click()
    assert _core(_finished(page)["finished"], version)["status"] == "incomplete"


@browser
@pytest.mark.parametrize("version", VERSIONS)
def test_self_contained_package_resumes_from_suspend_data(course, tmp_path, page, lms_server, version):
    """A learner who read lesson two last time completes by opening lesson one now; the
    earlier first-try answer still counts towards the score."""
    files = _export(tmp_path, version, "self-contained")
    saved = json.dumps({"viewed": {"1": 1}, "answered": {"q-chk-2-1": 1}})
    frame = _open_in_lms(page, lms_server, files, version, suspend_data=saved)
    frame.locator("#lesson-lesson-one button.finish").click()
    got = _core(_finished(page)["finished"], version)
    assert (got["status"], got["raw"]) == ("completed", "25")


def _pass_posttest_on_server(learner) -> None:
    """The post-test, through the same services the quiz pages use, answered correctly."""
    quiz = Quiz.objects.get(course__slug=COURSE, kind=Quiz.Kind.POSTTEST)
    attempt = attempt_start(learner=learner, quiz=quiz)
    version_ids = [entry["version"] for entry in attempt.layout]
    correct: dict[int, set[int]] = {}
    for option in Option.objects.filter(version_id__in=version_ids, is_correct=True):
        correct.setdefault(option.version_id, set()).add(option.pk)
    answers = [grading.Answer(v, frozenset(correct[v])) for v in version_ids]
    attempt_submit(attempt_id=attempt.pk, learner=learner, answers=answers)


def _reported(page, text: str) -> None:
    """Wait until the package has written a status containing `text` into the runtime."""
    page.wait_for_function(
        "t => (document.querySelector('#sco').contentDocument.body.getAttribute('data-reported') || '')"
        ".includes(t)",
        arg=text,
        timeout=15000,
    )


@browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("version", VERSIONS)
def test_connected_package_reports_the_hosted_course_back_to_the_lms(
    tmp_path, page, live_server, lms_server, settings, version
):
    """The LMS learner opens the hosted course from the package, reads the lessons there and
    passes the post-test on our server, and the package writes passed/completed, the score
    and the session time into the scorm-again runtime."""
    settings.LMS_SCORM_POLL_SECONDS = 1
    call_command("load_curriculum", content_dir=str(course_dir_write(tmp_path / "content")))
    files = _export(tmp_path, version, "connected", server_url=live_server.url)
    frame = _open_in_lms(page, lms_server, files, version)
    opener = frame.locator("#open-course")
    opener.wait_for(state="visible")
    assert axe_violations(page.frames[1]) == []
    with page.context.expect_page() as popup_info:
        opener.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == f"{live_server.url}{reverse('curriculum:course_detail', args=[COURSE])}"
    identity = ExternalLearner.objects.select_related("user").get(external_id="scorm:lms-learner-42")
    assert identity.user.full_name == "Doe, Jan"

    _reported(page, '"lesson_status":"incomplete"')  # the first status, before any progress
    # The learner reads both lessons in the hosted course, in the window the package opened.
    for lesson in Lesson.objects.filter(course__slug=COURSE).order_by("position"):
        popup.goto(f"{live_server.url}{reverse('curriculum:lesson_detail', args=[COURSE, lesson.slug])}")
        popup.get_by_role("button", name=re.compile("Mark complete")).click()
        popup.wait_for_load_state()
    _reported(page, '"progress_measure":0.6667')  # two lessons of three steps, still incomplete
    _pass_posttest_on_server(identity.user)
    _reported(page, '"success_status":"passed"')
    frame.locator("#finish").click()
    lms = _finished(page)
    got = _core(lms["finished"], version)
    assert got["raw"] == "100"
    if version == "1.2":
        assert got["status"] == "passed"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", got["time"])
    else:
        assert (got["status"], got["success"], got["scaled"]) == ("completed", "passed", "1")
        assert re.fullmatch(r"PT\d+H\d+M\d+S", got["time"])
    assert lms["manifest"].encode() == files["imsmanifest.xml"]
    assert schemas.manifest_errors(version, lms["manifest"].encode()) == []
    # Nothing of the key reached the LMS: only statuses and the score were committed.
    assert "is_correct" not in json.dumps(lms["commits"]) and "rationale" not in json.dumps(lms["commits"])


@browser
@pytest.mark.parametrize("version", VERSIONS)
def test_bundled_course_offline_package_runs_to_completion_and_is_accessible(
    db, tmp_path, page, lms_server, version
):
    """The real course, offline: every lesson shown in turn completes it; axe finds no WCAG issue."""
    call_command("load_curriculum")
    target = tmp_path / "bundled.zip"
    call_command(
        "export_scorm", "kratom-for-clinicians", "--version", version, "--mode", "self-contained",
        "--output", str(target),
    )
    with zipfile.ZipFile(target) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    frame = _open_in_lms(page, lms_server, files, version)
    lessons = Lesson.objects.filter(course__slug="kratom-for-clinicians").order_by("position")
    # A link to another lesson shows that lesson (one page, one lesson visible at a time).
    frame.locator("nav a[href='#lesson-dependence-withdrawal']").click()
    frame.locator("#lesson-dependence-withdrawal a[href^='#lesson-pharmacology']").first.click()
    frame.locator("#lesson-pharmacology").wait_for(state="visible")
    assert frame.locator("#lesson-dependence-withdrawal").is_hidden()
    frame.locator("nav a[href='#lesson-kratom-in-practice']").click()
    for lesson in lessons[: len(lessons) - 1]:
        frame.locator(f"#lesson-{lesson.slug} button.next").click()
    sco = page.frame_locator("#sco").locator("body")
    sco.wait_for()
    assert axe_violations(page.frames[1]) == []
    frame.locator(f"#lesson-{lessons.last().slug} button.finish").click()
    lms = _finished(page)
    assert _core(lms["finished"], version)["status"] == "completed"
    assert lms["manifest"].encode() == files["imsmanifest.xml"]


@browser
def test_bundled_course_offline_package_fits_a_phone(db, tmp_path, page, lms_server):
    """Inside an LMS on a 320-pixel phone, each offline lesson and check passes axe, never scrolls
    sideways (long reference URLs, the interaction table) and keeps each choice beside its label."""
    call_command("load_curriculum")
    target = tmp_path / "bundled.zip"
    call_command("export_scorm", "kratom-for-clinicians", "--version", "2004", "--mode", "self-contained",
                 "--output", str(target))
    with zipfile.ZipFile(target) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    page.set_viewport_size({"width": 320, "height": 640})
    frame = _open_in_lms(page, lms_server, files, "2004")
    sco = page.frames[1]
    slugs = list(Lesson.objects.filter(course__slug="kratom-for-clinicians").order_by("position")
                 .values_list("slug", flat=True))
    for slug in slugs:
        frame.locator(f"nav a[href='#lesson-{slug}']").click()
        frame.locator(f"#lesson-{slug}").wait_for(state="visible")
        problems = accessibility_problems(sco)
        assert problems == [], f"lesson {slug}: {problems}"
    assert sco.evaluate("document.documentElement.clientWidth") <= 320


def test_launch_of_an_unpublished_course_is_a_clear_error(course, client):
    session = client.get(reverse("lms_scorm:session"), {"package": _package_token(), "learner": "10"}).json()
    Course.objects.filter(slug=COURSE).update(is_published=False)
    response = client.get(session["launch_url"])
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not ExternalLearner.objects.filter(external_id="scorm:10").exists()
