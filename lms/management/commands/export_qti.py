"""`manage.py export_qti COURSE [--version 2.1|3.0] [--output FILE.zip] [--validate]`.

Writes the course's question bank as a QTI content package (lms/qti/). The
package holds the answer key and rationales: running manage.py is a staff
action by nature, and the admin download is staff-only too.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lms.exports import builders
from lms.qti import schemas


class Command(BaseCommand):
    help = "Export a course's question bank (items, key, rationales, tests) as an IMS QTI content package."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # The brief's `--version 2.1|3.0` replaces Django's own --version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("course", help="Course slug.")
        parser.add_argument("--version", dest="qti_version", choices=["2.1", "3.0"], default="2.1")
        parser.add_argument("--output", help="Zip file to write (default: <course>-qti<version>.zip).")
        parser.add_argument(
            "--validate", action="store_true",
            help="Check every file against the vendored QTI 2.1 schemas first (2.1 only).",
        )

    def handle(self, *args, course, qti_version, output, validate, verbosity, **options):
        if validate and qti_version != "2.1":
            raise CommandError("--validate needs --version 2.1: no offline QTI 3.0 schema exists.")
        progress = builders.CommandProgress(self.stdout.write, "documents") if verbosity >= 1 else None
        try:
            export = builders.qti_export(course=course, version=qti_version, progress=progress)
        except builders.ExportError as exc:
            raise CommandError(str(exc)) from exc
        if validate:
            problems = schemas.package21_errors(export.files)
            if problems:
                lines = [f"{path}:{error}" for path, errors in problems.items() for error in errors]
                raise CommandError("Schema errors:\n" + "\n".join(lines))
        target = Path(output or export.filename)
        with target.open("wb") as out:
            export.write(out)
        self.stdout.write(f"Wrote {target}: {export.summary}.")
