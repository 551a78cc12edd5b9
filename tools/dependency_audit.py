"""`make dependency-audit`: known vulnerabilities in what is installed, from PyPI's own data.

    python -m tools.dependency_audit                      # every distribution in this environment
    python -m tools.dependency_audit -r requirements.txt  # the pins of a requirements file (and its -r files)
    python -m tools.dependency_audit --path DIR           # what is installed in DIR (a site-packages)
    python -m tools.dependency_audit --strict             # also fail if any could not be checked
    python -m tools.dependency_audit --accept FILE        # advisories accepted, each with its reason

Why this exists beside `make audit` (pip-audit --strict): pip-audit asks
PyPI for each release's page (`/pypi/<name>/<version>/json`) or asks OSV.
On the machines this project is built and tested on, PyPI's per-release
pages answer 404 and OSV does not answer, so pip-audit can check nothing
here. PyPI's project page (`/pypi/<name>/json`) does answer, and lists the
known vulnerabilities (PyPA advisory database and OSV, the data pip-audit
reads) of the project's latest release. So each distribution is checked by
the first of these that answers:

1. its release page, when PyPI serves it (then every release can be checked);
2. the project page, when the installed version is the latest release.

Anything else is *unchecked* and listed with the reason (for example Django
5.2 LTS, which is not the latest Django). A vulnerability marked withdrawn
is ignored; one listed under several ids (PYSEC, GHSA, CVE) is reported once.
An advisory in the `--accept` file (TOML: a table per advisory id, with the
`distribution` it is accepted for and the `reason`) is reported as accepted
and does not fail the audit; the same advisory in another distribution does.

Exit status: 0 when nothing known was found; 1 when a vulnerability was
found; 2 when PyPI could not be read (a network error, a 5xx, a page that is
not the JSON PyPI serves), when nothing at all could be checked, or, with
`--strict`, when anything was left unchecked. An audit that checked nothing
never passes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterable, Sequence

import requests
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pip_requirements_parser import RequirementsFile
from urllib3.util.retry import Retry

PYPI_URL = "https://pypi.org"
TIMEOUT_SECONDS = 20
RETRIES = 3  # a connection error, a timeout, a 429 or a 5xx is asked again, after 0.5, 1, 2 s


@dataclasses.dataclass(frozen=True)
class Vulnerability:
    id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    link: str
    summary: str


@dataclasses.dataclass(frozen=True)
class Finding:
    name: str
    version: str
    checked_by: str = ""  # "release page" or "project page (latest release)"; empty if unchecked
    vulnerabilities: tuple[Vulnerability, ...] = ()
    unchecked: str = ""  # why it could not be checked (a 404, not the latest release)
    error: str = ""  # PyPI could not be read
    accepted: tuple[tuple[Vulnerability, str], ...] = ()  # (advisory, the accept file's reason)

    @property
    def checked(self) -> bool:
        return bool(self.checked_by)


class PypiError(Exception):
    """PyPI answered with something other than its JSON or a 404, or did not answer."""


def installed_distributions(paths: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(name, version) of every distribution installed in these directories (default: this
    Python environment), once each."""
    found: dict[str, tuple[str, str]] = {}
    for dist in importlib.metadata.distributions(**({"path": list(paths)} if paths else {})):
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), (name, dist.version))
    return sorted(found.values(), key=lambda pair: canonicalize_name(pair[0]))


def pinned_requirements(paths: Sequence[str]) -> list[tuple[str, str]]:
    """(name, version) of each `name==version` pin in the files, following their `-r` includes.

    Raises ValueError for a requirement that is not pinned to one version, or a
    name pinned twice to different versions."""
    found: dict[str, tuple[str, str]] = {}
    for path in paths:
        for requirement in RequirementsFile.from_file(path, include_nested=True).requirements:
            specifiers = list(requirement.specifier or ())
            if len(specifiers) != 1 or specifiers[0].operator not in ("==", "==="):
                given = requirement.specifier or "no version"
                raise ValueError(f"{path}: {requirement.name} is not pinned to one version ({given}).")
            pin = (requirement.name, specifiers[0].version)
            previous = found.setdefault(canonicalize_name(requirement.name), pin)
            if Version(previous[1]) != Version(pin[1]):
                raise ValueError(f"{requirement.name} is pinned to both {previous[1]} and {pin[1]}.")
    return sorted(found.values(), key=lambda pair: canonicalize_name(pair[0]))


def accepted_advisories(path: str) -> dict[str, tuple[str, str]]:
    """{advisory id: (canonical distribution name, reason)} from an accept file.

    Raises ValueError for an entry without both a distribution and a reason, or with other keys."""
    with open(path, "rb") as file:
        table = tomllib.load(file)
    accepted = {}
    for advisory, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != {"distribution", "reason"} or not all(
            isinstance(value, str) and value.strip() for value in entry.values()
        ):
            raise ValueError(f"{path}: [{advisory}] needs exactly a 'distribution' and a 'reason', both non-empty.")
        accepted[advisory] = (canonicalize_name(entry["distribution"]), entry["reason"].strip())
    return accepted


def with_accepted(finding: Finding, accepted: dict[str, tuple[str, str]]) -> Finding:
    """The finding with each advisory the accept file names for this distribution moved aside."""
    kept, moved = [], []
    for vulnerability in finding.vulnerabilities:
        for name in (vulnerability.id, *vulnerability.aliases):
            if name in accepted and accepted[name][0] == canonicalize_name(finding.name):
                moved.append((vulnerability, accepted[name][1]))
                break
        else:
            kept.append(vulnerability)
    return dataclasses.replace(finding, vulnerabilities=tuple(kept), accepted=tuple(moved))


def _vulnerabilities(entries: Iterable[dict]) -> tuple[Vulnerability, ...]:
    """PyPI's `vulnerabilities` list, without withdrawn entries and with one entry per advisory."""
    kept: list[Vulnerability] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.get("withdrawn"):
            continue
        names = {entry["id"], *(entry.get("aliases") or ())}
        if names & seen:
            continue
        seen |= names
        text = entry.get("summary") or entry.get("details") or ""
        kept.append(Vulnerability(
            id=entry["id"], aliases=tuple(entry.get("aliases") or ()), fixed_in=tuple(entry.get("fixed_in") or ()),
            link=entry.get("link") or "", summary=" ".join(text.split())[:160],
        ))
    return tuple(kept)


class Pypi:
    def __init__(self, base_url: str = PYPI_URL, *, retries: int = RETRIES, backoff: float = 0.5):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        retry = Retry(
            total=retries, backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=("GET",), raise_on_status=False, respect_retry_after_header=False,
        )
        adapter = requests.adapters.HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def page(self, path: str) -> dict | None:
        """The JSON at `path`, or None for a 404. Raises PypiError otherwise."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.get(url, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise PypiError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PypiError(f"{url}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise PypiError(f"{url}: not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("vulnerabilities"), list):
            raise PypiError(f"{url}: no 'vulnerabilities' list in the page")
        return body

    def check(self, name: str, version: str) -> Finding:
        project = canonicalize_name(name)
        try:
            release = self.page(f"/pypi/{project}/{version}/json")
            if release is not None:
                return Finding(name, version, "release page", _vulnerabilities(release["vulnerabilities"]))
            latest = self.page(f"/pypi/{project}/json")
        except PypiError as exc:
            return Finding(name, version, error=str(exc))
        if latest is None:
            return Finding(name, version, unchecked="not on PyPI (its project page answers 404)")
        latest_version = str((latest.get("info") or {}).get("version") or "")
        try:
            is_latest = Version(latest_version) == Version(version)
        except InvalidVersion:
            is_latest = latest_version == version
        if is_latest:
            return Finding(name, version, "project page (latest release)", _vulnerabilities(latest["vulnerabilities"]))
        return Finding(
            name, version,
            unchecked=f"its release page answers 404 and the latest release is {latest_version}, not {version}",
        )


def audit(
    distributions: Sequence[tuple[str, str]], pypi: Pypi, *, accepted: dict[str, tuple[str, str]] | None = None,
    jobs: int = 8, progress=None,
) -> list[Finding]:
    """Check every (name, version), setting aside the `accepted` advisories (`accepted_advisories`);
    `progress(done, total, finding)` is called as each finishes."""
    findings: list[Finding] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(pypi.check, name, version) for name, version in distributions]
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            finding = with_accepted(future.result(), accepted or {})
            findings.append(finding)
            if progress:
                progress(done, len(futures), finding)
    return sorted(findings, key=lambda f: canonicalize_name(f.name))


def exit_status(findings: Sequence[Finding], *, strict: bool) -> int:
    if any(f.vulnerabilities for f in findings):
        return 1
    if any(f.error for f in findings) or not any(f.checked for f in findings):
        return 2
    if strict and any(not f.checked for f in findings):
        return 2
    return 0


def report(findings: Sequence[Finding], *, strict: bool, out=None) -> None:
    out = out or sys.stdout
    checked = [f for f in findings if f.checked]
    vulnerable = [f for f in findings if f.vulnerabilities]
    unchecked = [f for f in findings if not f.checked and not f.error]
    errors = [f for f in findings if f.error]
    for finding in vulnerable:
        for v in finding.vulnerabilities:
            fix = ", ".join(v.fixed_in) or "no fixed release listed"
            aliases = f" ({', '.join(v.aliases)})" if v.aliases else ""
            print(f"VULNERABLE {finding.name} {finding.version}: {v.id}{aliases}; fixed in {fix}; {v.link}", file=out)
            if v.summary:
                print(f"    {v.summary}", file=out)
    for finding in findings:
        for v, reason in finding.accepted:
            print(f"ACCEPTED {finding.name} {finding.version}: {v.id}: {reason}", file=out)
    for finding in errors:
        print(f"ERROR {finding.name} {finding.version}: {finding.error}", file=out)
    for finding in unchecked:
        print(f"UNCHECKED {finding.name} {finding.version}: {finding.unchecked}", file=out)
    known = sum(len(f.vulnerabilities) for f in vulnerable)
    accepted = sum(len(f.accepted) for f in findings)
    print(
        f"{len(checked)} of {len(findings)} distributions checked against PyPI's vulnerability data: "
        f"{known} known {'vulnerability' if known == 1 else 'vulnerabilities'} in {len(vulnerable)}"
        f"{f' (and {accepted} accepted)' if accepted else ''}; "
        f"{len(unchecked)} unchecked{' (--strict: a failure)' if strict and unchecked else ''}; "
        f"{len(errors)} could not be read.",
        file=out,
    )
    if not checked:
        print("Nothing could be checked: this is not a clean audit.", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.dependency_audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE",
                        help="audit the pins of this requirements file (repeatable); default: this environment")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="audit what is installed in this directory (a site-packages; repeatable)")
    parser.add_argument("--accept", metavar="FILE", help="advisories accepted, with reasons (TOML; module docstring)")
    parser.add_argument("--strict", action="store_true", help="fail if any distribution could not be checked")
    parser.add_argument("--pypi-url", default=PYPI_URL, help=f"PyPI's address (default {PYPI_URL})")
    parser.add_argument("--retries", type=int, default=RETRIES,
                        help=f"ask again after a connection error, a timeout, a 429 or a 5xx (default {RETRIES})")
    parser.add_argument("--jobs", type=int, default=8, help="requests at once (default 8)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no line per distribution as it is checked")
    args = parser.parse_args(argv)
    if args.requirement and args.path:
        parser.error("give either -r files or --path directories, not both")
    try:
        if args.requirement:
            distributions = pinned_requirements(args.requirement)
        else:
            distributions = installed_distributions(args.path)
        accepted = accepted_advisories(args.accept) if args.accept else {}
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def progress(done: int, total: int, finding: Finding) -> None:
        if args.quiet:
            return
        state = (
            f"{len(finding.vulnerabilities)} known" if finding.vulnerabilities
            else f"{len(finding.accepted)} accepted" if finding.accepted
            else "error" if finding.error else "ok" if finding.checked else "unchecked"
        )
        print(f"[{done}/{total}] {finding.name} {finding.version}: {state}", flush=True)

    if not distributions:
        print("error: no distributions to audit", file=sys.stderr)
        return 2
    findings = audit(distributions, Pypi(args.pypi_url, retries=max(0, args.retries)), accepted=accepted, jobs=max(1, args.jobs), progress=progress)
    report(findings, strict=args.strict)
    return exit_status(findings, strict=args.strict)


if __name__ == "__main__":
    sys.exit(main())
