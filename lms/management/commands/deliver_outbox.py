"""`manage.py deliver_outbox [--once] [--interval S] [--batch N] [--no-exports]`: run the outbox worker.

Several may run at once, on one machine or many (lms/outbox.py explains
the claim). Without --once it loops until interrupted. After each delivery
pass it also runs one queued export job (lms/exports/services.py), so the
worker `make run` starts serves the staff's exports too; `--no-exports`
leaves them to a separate `run_export_jobs`.
"""

import os
import signal
import socket
import time

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, connections

from lms import outbox
from lms.exports import services as export_services


class Command(BaseCommand):
    help = "Fan out learner events into deliveries and send the due ones (webhooks), with retries."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit (for cron or tests).")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between passes when looping.")
        parser.add_argument("--batch", type=int, default=20, help="Deliveries claimed at a time.")
        parser.add_argument("--worker", default="", help="Name in the attempt log (default host:pid).")
        parser.add_argument("--no-exports", dest="exports", action="store_false",
                            help="Do not run export jobs here (a run_export_jobs worker does).")

    def handle(self, *args, once, interval, batch, worker, exports, verbosity, **options):
        worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        say = self.stdout.write if verbosity >= 1 else None
        self._stopping = False
        if not once:
            # A process manager's SIGTERM (deploys, scale-down) lets the pass in hand finish:
            # a delivery already sent is recorded as delivered, not left claimed until its
            # lease runs out and sent again. A second signal stops at once.
            signal.signal(signal.SIGTERM, self._stop)
        while True:
            try:
                report = outbox.outbox_run_once(worker=worker, batch=batch, progress=say)
                if exports:
                    # After the deliveries, never instead of them: one job a pass,
                    # so a queue of exports delays the next pass by one export.
                    export_services.export_jobs_run_once(worker=worker, limit=1, say=say)
            except (OperationalError, InterfaceError) as exc:
                if once:
                    raise
                # The database restarted or is briefly unreachable: nothing is
                # lost (claimed rows come back after their lease); try again.
                self.stderr.write(f"{worker}: database unavailable ({exc}); retrying in {interval} s")
                connections.close_all()
                time.sleep(interval)
                continue
            if verbosity >= 1 and (report.fanned_out or report.delivered or report.failed or report.dead):
                self.stdout.write(
                    f"{worker}: {report.fanned_out} event(s) fanned out, {report.delivered} delivered, "
                    f"{report.failed} to retry, {report.dead} dead"
                )
            if once or self._stopping:
                return
            try:
                self._sleep(interval)
            except KeyboardInterrupt:
                return
            if self._stopping:
                return

    def _stop(self, signum, frame) -> None:
        self._stopping = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _sleep(self, seconds: float) -> None:
        """Sleep in short steps, so a stop request ends the wait at once."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
