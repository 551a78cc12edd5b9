"""Export jobs: request, claim, run, recover (issue #7, section 8).

A job is a row (`lms.ExportJob`). Any worker process runs it: the outbox
worker (`deliver_outbox`, started by `make run`) takes one per pass, and
`run_export_jobs` is a worker of its own for deployments that want exports
apart from deliveries. Exactly one worker runs a job: `export_job_claim()`
takes the oldest queued row with `SELECT ... FOR UPDATE SKIP LOCKED` and marks
it running before commit, so a second worker skips it or sees it running.

The export is built outside any transaction (a long one would hold a
connection and a snapshot for minutes), by lms/exports/builders.py, the code
the management commands run, into a temporary file that is then stored
under LMS_EXPORTS_ROOT. Progress is written with UPDATE ... WHERE claimed_by
= this worker, which also moves a heartbeat: a job whose heartbeat is older
than LMS_EXPORT_STALE_SECONDS belongs to a worker that died, and
`export_jobs_recover()` re-queues it once, then marks it failed. A worker
that was only slow finds its job taken away when it finishes and discards
its file, so a re-queued job is never stored twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from lms.exports import builders
from lms.models import ExportJob

logger = logging.getLogger(__name__)

MAX_RUNS = 2  # a job whose worker died twice is failed, not retried forever
PROGRESS_WRITE_SECONDS = 0.2  # at most ~5 progress writes a second per job


def export_job_request(*, kind: str, parameters: dict, requested_by) -> ExportJob:
    """Queue an export. One query. The caller checks the permission (rules.may_export)."""
    return ExportJob.objects.create(
        kind=kind, parameters=parameters, requested_by=requested_by, message="Waiting for a worker"
    )


def export_job_claim(*, worker: str) -> ExportJob | None:
    """Take the oldest queued job for `worker`, or None. Two queries, one short transaction.

    `skip_locked`: a job another worker is claiming right now is skipped, not
    waited for; it is marked running before commit, so no later claim sees it queued.
    """
    now = timezone.now()
    with transaction.atomic():
        job = (
            ExportJob.objects.select_for_update(skip_locked=True)
            .filter(state=ExportJob.State.QUEUED)
            .order_by("created_at", "pk")
            .first()
        )
        if job is None:
            return None
        job.state = ExportJob.State.RUNNING
        job.claimed_by = worker
        job.started_at = job.heartbeat_at = now
        job.runs += 1
        job.progress_done, job.progress_total = 0, None
        job.message = "Starting"
        job.save(
            update_fields=[
                "state",
                "claimed_by",
                "started_at",
                "heartbeat_at",
                "runs",
                "progress_done",
                "progress_total",
                "message",
            ]
        )
    return job


def _mine(job: ExportJob, worker: str):
    return ExportJob.objects.filter(pk=job.pk, state=ExportJob.State.RUNNING, claimed_by=worker)


@dataclass
class _ProgressWriter:
    """The builders' progress(done, total) hook, written to the job's row (throttled)."""

    job: ExportJob
    worker: str
    unit: str
    listener: Callable[[int, int | None], object] | None = None  # told after each write (tests, logging)
    clock: Callable[[], float] = time.monotonic
    last: float = float("-inf")
    done: int = 0
    total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        now = self.clock()
        if now - self.last < PROGRESS_WRITE_SECONDS and done != total:
            return
        self.last = now
        text = f"{done} of {total} {self.unit}" if total is not None else f"{done} {self.unit} written"
        _mine(self.job, self.worker).update(
            progress_done=done, progress_total=total, message=text[:200], heartbeat_at=timezone.now()
        )
        if self.listener is not None:
            self.listener(done, total)


UNITS = {"qti": "documents", "scorm": "steps", "credit_report": "rows"}


def export_job_run(
    *,
    job: ExportJob,
    worker: str,
    today: dt.date | None = None,
    listener: Callable[[int, int | None], object] | None = None,
) -> ExportJob:
    """Build a claimed job's export and store it; the job ends done or failed.

    Never raises for a bad export (its error text says why), only for a lost
    database connection: the job then stays running and is recovered later.
    `listener(done, total)` is called after each progress write.
    """
    progress = _ProgressWriter(job, worker, UNITS.get(job.kind, "steps"), listener)
    try:
        export = builders.export_build(
            job.kind, job.parameters, today=today or timezone.localdate(), progress=progress
        )
        with tempfile.TemporaryFile() as tmp:
            export.write(tmp)
            size = tmp.tell()
            tmp.seek(0)
            stored = job.file.storage.save(f"job-{job.pk}/{export.filename}", File(tmp))
    except (OperationalError, InterfaceError):
        raise
    except builders.ExportError as exc:
        return _fail(job, worker, str(exc))
    except Exception as exc:  # a bug: keep the worker alive, tell the person, log the trace
        logger.exception("export job %s failed", job.pk)
        return _fail(job, worker, f"Unexpected error ({type(exc).__name__}): {exc}")
    total = progress.total if progress.total is not None else progress.done  # a CSV: its row count
    finished = _mine(job, worker).update(
        state=ExportJob.State.DONE,
        file=stored,
        filename=export.filename,
        size=size,
        progress_done=total,
        progress_total=total,
        message=f"Done: {export.summary}"[:200],
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    if not finished:  # recovered as stale while we worked: another run owns the job now
        job.file.storage.delete(stored)
    job.refresh_from_db()
    return job


def _fail(job: ExportJob, worker: str, error: str) -> ExportJob:
    _mine(job, worker).update(
        state=ExportJob.State.FAILED, error=error, message="Failed", finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def export_jobs_recover(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Jobs whose worker stopped reporting: re-queued (first time) or failed. Two queries.

    Returns (re-queued, failed). Each UPDATE re-checks the stale condition, so
    a job that reported progress in the meantime is left alone.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.LMS_EXPORT_STALE_SECONDS)
    stale = ExportJob.objects.filter(state=ExportJob.State.RUNNING, heartbeat_at__lt=cutoff)
    requeued = stale.filter(runs__lt=MAX_RUNS).update(
        state=ExportJob.State.QUEUED,
        claimed_by="",
        progress_done=0,
        progress_total=None,
        message="Re-queued: the worker running it stopped reporting",
    )
    failed = stale.filter(runs__gte=MAX_RUNS).update(
        state=ExportJob.State.FAILED,
        finished_at=now,
        message="Failed",
        error=(
            f"The worker running this export stopped reporting progress for over "
            f"{settings.LMS_EXPORT_STALE_SECONDS} seconds, {MAX_RUNS} times. Start it again, or run the "
            f"management command, and check the worker's log."
        ),
    )
    return requeued, failed


@dataclass(frozen=True)
class Housekeeping:
    """What `export_files_expire` removed: jobs whose file expired, and files no job held."""

    expired: int = 0
    orphans: int = 0


def export_files_expire(*, now: dt.datetime | None = None) -> Housekeeping:
    """Delete export files older than LMS_EXPORT_RETENTION_HOURS. Three queries and a walk of the folder.

    Credit reports carry learners' names, dates of birth and licence numbers,
    and packages carry answer keys: no copy stays on disk longer than the
    retention. A done job older than that becomes `expired`: the row stays
    (who exported what, when, and how big), the file goes. The row changes
    first, in its own transaction, so no download opens a file about to be
    deleted; a crash before the delete leaves a file that no job holds, and
    the walk that follows removes every such file once it is older than the
    retention (also a file whose worker died between storing it and
    recording it). Younger files that no job holds yet are a worker's
    export in flight, and are left alone.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(hours=settings.LMS_EXPORT_RETENTION_HOURS)
    storage = ExportJob._meta.get_field("file").storage
    with transaction.atomic():
        due = list(
            ExportJob.objects.select_for_update(skip_locked=True)
            .filter(state=ExportJob.State.DONE, finished_at__lt=cutoff)
            .values_list("pk", "file")
        )
        if due:
            ExportJob.objects.filter(pk__in=[pk for pk, _ in due]).update(
                state=ExportJob.State.EXPIRED,
                file="",
                message=(
                    f"File deleted after {settings.LMS_EXPORT_RETENTION_HOURS} hours. "
                    f"Start the export again for a new copy."
                )[:200],
            )
    for _, name in due:
        storage.delete(name)  # a file already gone is no error
    held = set(ExportJob.objects.filter(state=ExportJob.State.DONE).values_list("file", flat=True))
    return Housekeeping(expired=len(due), orphans=_orphans_delete(Path(storage.location), held, cutoff))


def _orphans_delete(root: Path, held: set[str], cutoff: dt.datetime) -> int:
    """Files under `root` older than `cutoff` whose name (relative, with "/") no done job holds,
    then the folders that leaves empty and old. Returns how many files were deleted."""
    if not root.is_dir():
        return 0
    limit = cutoff.timestamp()
    deleted = 0
    for folder, _subfolders, files in os.walk(root, topdown=False):
        here = Path(folder)
        try:
            # Read before deleting in it (which makes it new): when did anyone else last add to it?
            young = here.stat().st_mtime >= limit
        except FileNotFoundError:
            continue
        for file in files:
            path = here / file
            with contextlib.suppress(FileNotFoundError):  # another worker's walk got there first
                if path.relative_to(root).as_posix() not in held and path.stat().st_mtime < limit:
                    path.unlink()
                    deleted += 1
        # A folder a worker made a moment ago for a file it is about to store is young: kept.
        if here != root and not young:
            with contextlib.suppress(OSError):  # not empty, or already gone
                here.rmdir()
    return deleted


@dataclass
class HousekeepingClock:
    """When this process last expired export files (time.monotonic()); None: its next pass does.

    The files' retention is hours long, so a worker passing every few seconds
    expires them every LMS_EXPORT_HOUSEKEEPING_SECONDS, not on every pass
    (two queries and a walk of LMS_EXPORTS_ROOT each time). A new process,
    and so every `--once` run, expires them on its first pass.
    """

    done_at: float | None = None

    def due(self) -> bool:
        return self.done_at is None or time.monotonic() - self.done_at >= settings.LMS_EXPORT_HOUSEKEEPING_SECONDS

    def reset(self) -> None:
        self.done_at = None


HOUSEKEEPING_CLOCK = HousekeepingClock()


def export_jobs_run_once(*, worker: str, limit: int = 1, say: Callable[[str], object] | None = None) -> int:
    """Expire old files (when HOUSEKEEPING_CLOCK is due) and recover stale jobs, then claim
    and run up to `limit` queued ones. Returns how many ran."""
    if HOUSEKEEPING_CLOCK.due():
        housekeeping = export_files_expire()
        HOUSEKEEPING_CLOCK.done_at = time.monotonic()
        if say and (housekeeping.expired or housekeeping.orphans):
            say(f"{worker}: export files deleted after {settings.LMS_EXPORT_RETENTION_HOURS} hours: "
                f"{housekeeping.expired} of expired jobs, {housekeeping.orphans} that no job held")
    requeued, failed = export_jobs_recover()
    if say and (requeued or failed):
        say(f"{worker}: export jobs re-queued {requeued}, failed as stale {failed}")
    ran = 0
    while ran < limit and (job := export_job_claim(worker=worker)) is not None:
        job = export_job_run(job=job, worker=worker)
        ran += 1
        if say:
            say(f"{worker}: export job {job.pk} ({job.kind}) {job.state}: {job.error or job.message}")
    return ran
