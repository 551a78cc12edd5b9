"""`manage.py deliver_outbox [--once] [--interval S] [--batch N]`: run the outbox worker.

Several may run at once, on one machine or many (lms/outbox.py explains
the claim). Without --once it loops until interrupted.
"""

import os
import socket
import time

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, connections

from lms import outbox


class Command(BaseCommand):
    help = "Fan out learner events into deliveries and send the due ones (webhooks), with retries."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit (for cron or tests).")
        parser.add_argument("--interval", type=float, default=2.0, help="Seconds between passes when looping.")
        parser.add_argument("--batch", type=int, default=20, help="Deliveries claimed at a time.")
        parser.add_argument("--worker", default="", help="Name in the attempt log (default host:pid).")

    def handle(self, *args, once, interval, batch, worker, verbosity, **options):
        worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        say = self.stdout.write if verbosity >= 1 else None
        while True:
            try:
                report = outbox.outbox_run_once(worker=worker, batch=batch, progress=say)
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
            if once:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return
