"""`manage.py run_export_jobs [--once] [--interval S]`: a worker for export jobs alone.

`deliver_outbox` already runs export jobs between delivery passes; run this
instead (with `deliver_outbox --no-exports`) to keep long exports from
delaying deliveries. Several may run at once (lms/exports/services.py).
"""

import os
import socket
import time

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, connections

from lms.exports import services


class Command(BaseCommand):
    help = "Run queued export jobs (QTI, SCORM, credit reports) staff started from the site or the admin."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Run the queued jobs, then exit (cron, tests)."
        )
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between polls when looping.")
        parser.add_argument("--worker", default="", help="Name recorded on the job (default host:pid).")

    def handle(self, *args, once, interval, worker, verbosity, **options):
        worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        say = self.stdout.write if verbosity >= 1 else None
        while True:
            try:
                # --once drains the queue; a loop takes one job per poll, so a
                # stale job is recovered between long exports too.
                ran = services.export_jobs_run_once(worker=worker, limit=10_000 if once else 1, say=say)
            except (OperationalError, InterfaceError) as exc:
                if once:
                    raise
                self.stderr.write(f"{worker}: database unavailable ({exc}); retrying in {interval} s")
                connections.close_all()
                time.sleep(interval)
                continue
            if once:
                return
            if ran:
                continue  # more may be queued: no sleep between jobs
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return
