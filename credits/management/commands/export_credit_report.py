"""Write a provider report as CSV, the same file the staff page streams and the staff's
background export job (lms/exports) stores (for scheduled jobs)."""

import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from credits import exports
from credits.models import Activity


class Command(BaseCommand):
    help = "Export a credit report (completions, pars, cpe-monitor, evaluations, outcomes) as CSV."

    def add_arguments(self, parser):
        parser.add_argument("report", choices=exports.REPORTS)
        parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None)
        parser.add_argument("--credit-type", default="")
        parser.add_argument("--activity", default="", help="Course slug (evaluations, outcomes).")
        parser.add_argument("--output", "-o", default="-", help="File to write; '-' for standard output.")

    def handle(self, *args, report, date_from, date_to, credit_type, activity, output, verbosity, **options):
        today = timezone.localdate()
        chosen = None
        if report in ("evaluations", "outcomes"):
            chosen = Activity.objects.select_related("course").filter(course__slug=activity).first()
            if chosen is None:
                raise CommandError("--activity must name a course slug with a CE activity")
        built = exports.report_build(
            report, date_from=date_from or dt.date.min, date_to=date_to or today, credit_type=credit_type,
            activity=chosen, today=today,
        )
        # Progress goes to standard error: standard output may be the CSV itself.
        progress = (lambda rows, _total: self.stderr.write(f"rows: {rows} written")) if verbosity >= 2 else None
        if output == "-":
            for line in exports.csv_lines(built, progress=progress):
                sys.stdout.write(line)
        else:
            with open(output, "wb") as out:
                exports.csv_write(built, out, progress=progress)
