"""Every export once: what `export_qti`, `export_scorm`, `export_credit_report`
and the background export jobs all build.

A builder reads what it needs, reports progress through `progress(done,
total)` (total None when unknown) and returns an `Export` whose `write(out)`
puts the file into a binary file object: the command's output file, or the
job's temporary file. So a job's file is the command's file for the same
parameters, by construction. Builders raise `ExportError` with a sentence a
person can act on; the commands turn it into a CommandError, the jobs into
their error text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from credits import exports as credit_exports
from credits.models import Activity
from curriculum.models import Course
from lms.qti import package as qti_package
from lms.qti import selectors as qti_selectors
from lms.scorm import package as scorm_package
from lms.scorm import schemas as scorm_schemas
from lms.scorm import selectors as scorm_selectors
from lms.scorm import services as scorm_services
from lms.scorm import tokens as scorm_tokens

Progress = Callable[[int, int | None], None] | None

QTI_VERSIONS = ("2.1", "3.0")
SCORM_VERSIONS = scorm_package.VERSIONS
SCORM_MODES = scorm_package.MODES
REPORTS = credit_exports.REPORTS


class ExportError(Exception):
    """The export cannot be built as asked (unknown course, bad option)."""


@dataclass
class Export:
    filename: str
    content_type: str
    summary: str
    write: Callable[[BinaryIO], None]
    files: dict[str, bytes] = field(default_factory=dict)  # the package's files (zip exports)


def qti_export(*, course: str, version: str = "2.1", progress: Progress = None) -> Export:
    """The course's question bank as a QTI package: carries the answer key."""
    if version not in QTI_VERSIONS:
        raise ExportError("QTI version must be 2.1 or 3.0.")
    try:
        bank = qti_selectors.qti_bank_get(course_slug=course)
    except Course.DoesNotExist as exc:
        raise ExportError(f"No course with slug {course!r}.") from exc
    built = qti_package.package_build(bank, version=version, progress=progress)
    tests = sum(1 for p in built.files if p.startswith("tests/"))
    return Export(
        filename=f"{course}-qti{version.replace('.', '')}.zip",
        content_type="application/zip",
        summary=f"QTI {version}, {len(bank.items)} item(s), {tests} test(s)",
        write=built.zip_write,
        files=built.files,
    )


def scorm_export(
    *,
    course: str,
    version: str = "1.2",
    mode: str = "connected",
    server_url: str = "",
    organisation: str = scorm_services.DEFAULT_ORGANISATION,
    progress: Progress = None,
) -> Export:
    """A SCORM package; self-contained packages carry the knowledge-check keys.

    A connected package names `server_url` and carries a signed token for
    `organisation` (created on first use), as `export_scorm` always did.
    """
    if version not in SCORM_VERSIONS or mode not in SCORM_MODES:
        raise ExportError("SCORM version must be 1.2 or 2004; mode connected or self-contained.")
    if mode == "connected":
        if not server_url.startswith(("https://", "http://")):
            raise ExportError(
                "A connected package needs a server URL (--server-url: our site's origin, https://...)."
            )
        found = Course.objects.published().filter(slug=course).first()
        if found is None:
            raise ExportError(f"No published course with slug {course!r}.")
        org = scorm_services.scorm_default_organisation(slug=organisation)
        if not org.is_active:
            raise ExportError(f"Organisation {organisation!r} is switched off.")
        token = scorm_tokens.package_token(
            scorm_tokens.PackageClaim(course_slug=found.slug, organisation_id=org.pk, version=version)
        )
        built = scorm_package.connected_build(
            version=version, course=found, server_url=server_url, package_token=token, progress=progress
        )
    else:
        try:
            offline = scorm_selectors.scorm_course_get(course_slug=course)
        except Course.DoesNotExist as exc:
            raise ExportError(f"No published course with slug {course!r}.") from exc
        built = scorm_package.offline_build(version=version, offline=offline, progress=progress)
    problems = scorm_schemas.manifest_errors(version, built.files["imsmanifest.xml"])
    if problems:  # a bug of ours: never hand an LMS a manifest it may reject
        raise ExportError("imsmanifest.xml fails the ADL schema:\n" + "\n".join(problems))
    return Export(
        filename=f"{course}-scorm{version.replace('.', '')}-{mode}.zip",
        content_type="application/zip",
        summary=f"SCORM {version}, {mode}, {len(built.files)} file(s)",
        write=built.zip_write,
        files=built.files,
    )


def credit_report_export(
    *,
    report: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    credit_type: str = "",
    activity: str = "",
    today: dt.date,
    progress: Progress = None,
) -> Export:
    """A provider report as CSV (UTF-8), streamed row by row into `out`."""
    if report not in REPORTS:
        raise ExportError(f"Unknown report {report!r}: one of {', '.join(REPORTS)}.")
    chosen = None
    if report in ("evaluations", "outcomes"):
        chosen = Activity.objects.select_related("course").filter(course__slug=activity).first()
        if chosen is None:
            raise ExportError("The activity must name a course slug with a CE activity.")
    built = credit_exports.report_build(
        report,
        date_from=date_from or dt.date.min,
        date_to=date_to or today,
        credit_type=credit_type,
        activity=chosen,
        today=today,
    )

    def write(out: BinaryIO) -> None:
        credit_exports.csv_write(built, out, progress=progress)

    return Export(
        filename=f"{report}.csv",
        content_type="text/csv; charset=utf-8",
        summary=f"{built.title} (CSV)",
        write=write,
    )


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise ExportError(f"{value!r} is not a date (YYYY-MM-DD).") from exc


def export_build(kind: str, parameters: dict, *, today: dt.date, progress: Progress = None) -> Export:
    """The export of a job: `kind` is an ExportJob.Kind value, `parameters` its JSON."""
    p = parameters
    if kind == "qti":
        return qti_export(course=p.get("course", ""), version=p.get("version", "2.1"), progress=progress)
    if kind == "scorm":
        return scorm_export(
            course=p.get("course", ""),
            version=p.get("version", "1.2"),
            mode=p.get("mode", "connected"),
            server_url=p.get("server_url", ""),
            progress=progress,
        )
    if kind == "credit_report":
        return credit_report_export(
            report=p.get("report", ""),
            date_from=_date(p.get("date_from")),
            date_to=_date(p.get("date_to")),
            credit_type=p.get("credit_type", ""),
            activity=p.get("activity", ""),
            today=today,
            progress=progress,
        )
    raise ExportError(f"Unknown export kind {kind!r}.")


class CommandProgress:
    """progress(done, total) for a management command: a line per tenth of the work
    (or per report when the total is unknown), so long exports show they are moving."""

    def __init__(self, write: Callable[[str], object], label: str):
        self.write, self.label, self.shown = write, label, -1

    def __call__(self, done: int, total: int | None) -> None:
        if total is None:
            self.write(f"{self.label}: {done} row(s) written")
            return
        tenth = 10 * done // total if total else 10
        if tenth > self.shown:
            self.shown = tenth
            self.write(f"{self.label}: {done}/{total} ({100 * done // total if total else 100}%)")
