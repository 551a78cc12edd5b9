"""`make dependency-audit` (tools/dependency_audit.py) against a PyPI served here.

The fake serves PyPI's two JSON pages as pypi.org does (`/pypi/<name>/json`,
`/pypi/<name>/<version>/json`, each with a `vulnerabilities` list), from a
dict a test fills; anything not in it is a 404. `.ci/run` runs the tool
against the real pypi.org (Makefile, dependency-audit).
"""

from __future__ import annotations

import functools
import io
import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.httpd import base_url, free_port, reply, serving
from tools import dependency_audit as audit

ECDSA_ADVISORY = {
    "id": "PYSEC-2026-1325", "aliases": ["CVE-2024-23342", "GHSA-wj6h-64fc-37mp"], "fixed_in": [],
    "link": "https://osv.dev/vulnerability/PYSEC-2026-1325", "source": "osv", "summary": None,
    "details": "python-ecdsa has been found to be subject to a Minerva timing attack on the P-256 curve.",
    "withdrawn": None,
}
# The same advisory under its GHSA id, as PyPI lists it a second time.
ECDSA_ADVISORY_AS_GHSA = {**ECDSA_ADVISORY, "id": "GHSA-wj6h-64fc-37mp", "aliases": ["CVE-2024-23342"]}


def advisory(id_: str, *, fixed_in=("2.0",), withdrawn=None) -> dict:
    return {"id": id_, "aliases": [], "fixed_in": list(fixed_in), "link": f"https://osv.dev/vulnerability/{id_}",
            "source": "osv", "summary": f"{id_} summary", "details": "", "withdrawn": withdrawn}


def project(latest: str, vulnerabilities=()) -> dict:
    return {"info": {"name": "x", "version": latest}, "releases": {}, "vulnerabilities": list(vulnerabilities)}


class FakePypi:
    def __init__(self):
        self.pages: dict[str, list[tuple[int, bytes]]] = {}  # answered in turn; the last one from then on
        self.requested: list[str] = []
        self.url = ""  # set once served

    def serve(self, path: str, body: dict | str, status: int = 200, *, then: dict | None = None):
        self.pages[path] = [(status, body.encode() if isinstance(body, str) else json.dumps(body).encode())]
        if then is not None:
            self.pages[path].append((200, json.dumps(then).encode()))

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                fake.requested.append(self.path)
                answers = fake.pages.get(self.path, [(404, b'{"message": "Not Found"}')])
                reply(self, *(answers.pop(0) if len(answers) > 1 else answers[0]))

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def pypi():
    fake = FakePypi()
    with serving(fake.handler()) as server:
        fake.url = base_url(server)
        yield fake


def run(pypi: FakePypi, *args: str, capsys) -> tuple[int, str]:
    status = audit.main([*args, "--pypi-url", pypi.url, "-q", *(() if "--retries" in args else ("--retries", "0"))])
    return status, capsys.readouterr().out


@pytest.fixture
def requirements(tmp_path):
    def write(text: str, name: str = "requirements.txt") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


def test_the_latest_release_is_checked_from_the_project_page_and_a_known_vulnerability_fails(pypi, requirements, capsys):
    pypi.serve("/pypi/ecdsa/json", project("0.19.2", [ECDSA_ADVISORY, ECDSA_ADVISORY_AS_GHSA]))
    pypi.serve("/pypi/django/json", project("6.1.3"))
    status, out = run(pypi, "-r", requirements("ecdsa==0.19.2\nDjango==6.1.3\n"), capsys=capsys)
    assert status == 1
    # Reported once, under its first id, with its aliases and the absence of a fix.
    assert out.count("VULNERABLE") == 1
    assert ("VULNERABLE ecdsa 0.19.2: PYSEC-2026-1325 (CVE-2024-23342, GHSA-wj6h-64fc-37mp); "
            "fixed in no fixed release listed; https://osv.dev/vulnerability/PYSEC-2026-1325") in out
    assert "Minerva timing attack" in out
    assert "2 of 2 distributions checked against PyPI's vulnerability data: 1 known vulnerability in 1" in out
    # The release page is asked first; the project page answers when it is a 404.
    assert pypi.requested.index("/pypi/ecdsa/0.19.2/json") < pypi.requested.index("/pypi/ecdsa/json")


def test_a_release_page_that_answers_checks_an_older_release(pypi, requirements, capsys):
    pypi.serve("/pypi/django/5.2.19/json", project("5.2.19", [advisory("PYSEC-2026-1", fixed_in=("5.2.20",))]))
    pypi.serve("/pypi/django/json", project("6.1.3"))
    status, out = run(pypi, "-r", requirements("Django==5.2.19\n"), capsys=capsys)
    assert status == 1
    assert "VULNERABLE Django 5.2.19: PYSEC-2026-1; fixed in 5.2.20" in out
    assert "/pypi/django/json" not in pypi.requested


def test_an_older_release_without_a_release_page_is_unchecked_and_named(pypi, requirements, capsys):
    pypi.serve("/pypi/django/json", project("6.1.3", [advisory("PYSEC-2026-2")]))  # 6.1.3's, not 5.2.19's
    pypi.serve("/pypi/nh3/json", project("0.3.8"))
    path = requirements("Django==5.2.19\nnh3==0.3.8\n")
    status, out = run(pypi, "-r", path, capsys=capsys)
    assert status == 0
    assert "UNCHECKED Django 5.2.19: its release page answers 404 and the latest release is 6.1.3, not 5.2.19" in out
    assert "PYSEC-2026-2" not in out
    assert "1 of 2 distributions checked" in out and "1 unchecked" in out
    status, out = run(pypi, "-r", path, "--strict", capsys=capsys)
    assert status == 2
    assert "1 unchecked (--strict: a failure)" in out


def test_versions_compare_as_versions(pypi, requirements, capsys):
    pypi.serve("/pypi/django-csp/json", project("4.0.0", [advisory("PYSEC-2026-3")]))
    status, out = run(pypi, "-r", requirements("django-csp==4.0\n"), capsys=capsys)
    assert status == 1
    assert "VULNERABLE django-csp 4.0: PYSEC-2026-3" in out


def test_a_withdrawn_advisory_is_ignored(pypi, requirements, capsys):
    pypi.serve("/pypi/nh3/json", project("0.3.8", [advisory("PYSEC-2026-4", withdrawn="2026-11-01T00:00:00Z")]))
    status, out = run(pypi, "-r", requirements("nh3==0.3.8\n"), capsys=capsys)
    assert status == 0
    assert "PYSEC-2026-4" not in out
    assert "1 of 1 distributions checked against PyPI's vulnerability data: 0 known vulnerabilities" in out


def test_a_project_pypi_does_not_know_is_unchecked(pypi, requirements, capsys):
    pypi.serve("/pypi/nh3/json", project("0.3.8"))
    status, out = run(pypi, "-r", requirements("nh3==0.3.8\nour-private-thing==1.0\n"), capsys=capsys)
    assert status == 0
    assert "UNCHECKED our-private-thing 1.0: not on PyPI (its project page answers 404)" in out


@pytest.mark.parametrize(
    ("status_code", "body", "message"),
    [
        (500, "{}", "HTTP 500"),
        (200, "<html>a captive portal</html>", "not JSON"),
        (200, '{"info": {"version": "0.3.8"}}', "no 'vulnerabilities' list"),
    ],
)
def test_pypi_answering_anything_else_fails_the_audit(pypi, requirements, capsys, status_code, body, message):
    pypi.serve("/pypi/nh3/json", project("0.3.8"))
    pypi.serve("/pypi/orjson/json", body, status=status_code)
    status, out = run(pypi, "-r", requirements("nh3==0.3.8\norjson==3.13.0\n"), capsys=capsys)
    assert status == 2
    assert "ERROR orjson 3.13.0: " in out and message in out
    assert "1 could not be read" in out


def test_a_passing_failure_of_pypi_is_asked_again(pypi, requirements, capsys, monkeypatch):
    monkeypatch.setattr(audit, "Pypi", functools.partial(audit.Pypi, backoff=0.01))
    pypi.serve("/pypi/nh3/json", "{}", status=503, then=project("0.3.8", [advisory("PYSEC-2026-6")]))
    status, out = run(pypi, "-r", requirements("nh3==0.3.8\n"), "--retries", "2", capsys=capsys)
    assert status == 1
    assert "VULNERABLE nh3 0.3.8: PYSEC-2026-6" in out
    assert pypi.requested.count("/pypi/nh3/json") == 2
    # Still failing after the retries: the last answer is reported.
    pypi.serve("/pypi/nh3/json", "{}", status=503)
    pypi.requested.clear()
    status, out = run(pypi, "-r", requirements("nh3==0.3.8\n"), "--retries", "2", capsys=capsys)
    assert status == 2
    assert "ERROR nh3 0.3.8: " in out and "HTTP 503" in out
    assert pypi.requested.count("/pypi/nh3/json") == 3


def test_an_audit_that_checked_nothing_never_passes(pypi, requirements, capsys):
    status, out = run(pypi, "-r", requirements("Django==5.2.19\n"), capsys=capsys)  # every page a 404
    assert status == 2
    assert "0 of 1 distributions checked" in out
    assert "Nothing could be checked: this is not a clean audit." in out


def test_pypi_unreachable_fails_the_audit(requirements, capsys):
    status = audit.main(["-r", requirements("nh3==0.3.8\n"), "--pypi-url", f"http://127.0.0.1:{free_port()}",
                         "-q", "--retries", "0"])
    out = capsys.readouterr().out
    assert status == 2
    assert "ERROR nh3 0.3.8: http://127.0.0.1:" in out and "ConnectionError" in out


def test_requirements_files_are_followed_through_their_includes(pypi, requirements, capsys):
    requirements("# runtime\nDjango==6.1.3\npsycopg[binary]==3.3.9  # a comment\n", "base.txt")
    dev = requirements("-r base.txt\npytest==9.2.0\nDjango==6.1.3\n", "dev.txt")
    for name, version in [("django", "6.1.3"), ("psycopg", "3.3.9"), ("pytest", "9.2.0")]:
        pypi.serve(f"/pypi/{name}/json", project(version))
    status, out = run(pypi, "-r", dev, capsys=capsys)
    assert status == 0
    assert "3 of 3 distributions checked" in out
    assert sorted(p for p in pypi.requested if p.endswith("/json") and p.count("/") == 3) == [
        "/pypi/django/json", "/pypi/psycopg/json", "/pypi/pytest/json",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Django>=5.2\n", "Django is not pinned to one version (>=5.2)."),
        ("Django\n", "Django is not pinned to one version (no version)."),
        ("Django==5.2.19\ndjango==5.2.18\n", "django is pinned to both 5.2.19 and 5.2.18."),
    ],
)
def test_a_requirement_that_is_not_one_pin_is_refused(pypi, requirements, capsys, text, message):
    status = audit.main(["-r", requirements(text), "--pypi-url", pypi.url, "-q"])
    assert status == 2
    assert message in capsys.readouterr().err
    assert pypi.requested == []


def test_path_audits_what_is_installed_in_a_directory(pypi, tmp_path, capsys):
    site = tmp_path / "site-packages"
    for name, version in [("Django", "6.1.3"), ("ecdsa", "0.19.2")]:
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    pypi.serve("/pypi/django/json", project("6.1.3"))
    pypi.serve("/pypi/ecdsa/json", project("0.19.2", [ECDSA_ADVISORY]))
    status, out = run(pypi, "--path", str(site), capsys=capsys)
    assert status == 1
    assert "VULNERABLE ecdsa 0.19.2: PYSEC-2026-1325" in out
    assert "2 of 2 distributions checked" in out


def test_by_default_this_environment_is_audited(pypi, capsys):
    pypi.serve("/pypi/django/json", project("0.0.0"))
    status, out = run(pypi, capsys=capsys)
    assert status == 2  # every other page is a 404: nothing checked
    import django

    assert f"UNCHECKED Django {django.__version__}: its release page answers 404 and the latest release is 0.0.0" in out
    assert "/pypi/pytest/json" in pypi.requested


def write_accept(tmp_path: Path, text: str) -> str:
    path = tmp_path / "accepted.toml"
    path.write_text(text)
    return str(path)


ACCEPT_ECDSA = '[PYSEC-2026-1325]\ndistribution = "ecdsa"\nreason = "test-only, no key signs"\n'


def test_an_accepted_advisory_is_reported_and_does_not_fail(pypi, requirements, tmp_path, capsys):
    pypi.serve("/pypi/ecdsa/json", project("0.19.2", [ECDSA_ADVISORY]))
    accept = write_accept(tmp_path, ACCEPT_ECDSA.replace("PYSEC-2026-1325", "GHSA-wj6h-64fc-37mp"))  # an alias
    status, out = run(pypi, "-r", requirements("ecdsa==0.19.2\n"), "--accept", accept, capsys=capsys)
    assert status == 0
    assert "ACCEPTED ecdsa 0.19.2: PYSEC-2026-1325: test-only, no key signs" in out
    assert "0 known vulnerabilities in 0 (and 1 accepted)" in out


def test_an_advisory_accepted_for_one_distribution_still_fails_in_another(pypi, requirements, tmp_path, capsys):
    pypi.serve("/pypi/ecdsa/json", project("0.19.2", [ECDSA_ADVISORY]))
    pypi.serve("/pypi/ecdsa-fork/json", project("1.0", [ECDSA_ADVISORY, advisory("PYSEC-2026-5")]))
    status, out = run(pypi, "-r", requirements("ecdsa==0.19.2\necdsa-fork==1.0\n"),
                      "--accept", write_accept(tmp_path, ACCEPT_ECDSA), capsys=capsys)
    assert status == 1
    assert "ACCEPTED ecdsa 0.19.2" in out
    assert "VULNERABLE ecdsa-fork 1.0: PYSEC-2026-1325" in out and "VULNERABLE ecdsa-fork 1.0: PYSEC-2026-5" in out


@pytest.mark.parametrize(
    "text",
    [
        '[PYSEC-1]\ndistribution = "ecdsa"\n',
        '[PYSEC-1]\ndistribution = "ecdsa"\nreason = "  "\n',
        '[PYSEC-1]\ndistribution = "ecdsa"\nreason = "x"\nuntil = "never"\n',
        "PYSEC-1 = 'ecdsa'\n",
        "[PYSEC-1\n",
    ],
)
def test_an_accept_entry_without_its_distribution_and_reason_is_refused(pypi, requirements, tmp_path, capsys, text):
    status = audit.main(["-r", requirements("ecdsa==0.19.2\n"), "--accept", write_accept(tmp_path, text),
                         "--pypi-url", pypi.url, "-q"])
    assert status == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert pypi.requested == []


def test_progress_prints_a_line_a_distribution(pypi, requirements, capsys):
    pypi.serve("/pypi/nh3/json", project("0.3.8"))
    pypi.serve("/pypi/ecdsa/json", project("0.19.2", [ECDSA_ADVISORY]))
    audit.main(["-r", requirements("nh3==0.3.8\necdsa==0.19.2\nDjango==5.2.19\n"), "--pypi-url", pypi.url])
    lines = capsys.readouterr().out.splitlines()
    progress = sorted(line.split("] ", 1)[1] for line in lines if line.startswith("["))
    assert progress == ["Django 5.2.19: unchecked", "ecdsa 0.19.2: 1 known", "nh3 0.3.8: ok"]
    assert {line.split("]")[0] for line in lines if line.startswith("[")} == {"[1/3", "[2/3", "[3/3"}


def test_the_projects_own_files_are_auditable():
    """Every requirement is one pin, and the accept file's entries each name a distribution and a reason."""
    root = Path(__file__).resolve().parents[2]
    pins = audit.pinned_requirements([str(root / "requirements.txt"), str(root / "requirements-dev.txt")])
    names = {name.lower() for name, _ in pins}
    assert {"django", "pytest"} <= names  # both files, the second through its -r of the first
    accepted = audit.accepted_advisories(str(root / "tools" / "accepted-advisories.toml"))
    assert accepted and all(distribution and reason for distribution, reason in accepted.values())


def test_the_report_is_the_summary_of_what_was_found():
    findings = [
        audit.Finding("a", "1", "project page (latest release)"),
        audit.Finding("b", "2", unchecked="x"),
    ]
    out = io.StringIO()
    audit.report(findings, strict=False, out=out)
    assert out.getvalue().strip().splitlines()[-1] == (
        "1 of 2 distributions checked against PyPI's vulnerability data: 0 known vulnerabilities in 0; "
        "1 unchecked; 0 could not be read."
    )
    assert audit.exit_status(findings, strict=False) == 0
    assert audit.exit_status(findings, strict=True) == 2
