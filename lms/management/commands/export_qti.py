"""`manage.py export_qti COURSE [--version 2.1|3.0] [--output FILE.zip] [--validate]`.

Writes the course's question bank as a QTI content package (lms/qti/). The
package holds the answer key and rationales: running manage.py is a staff
action by nature, and the admin download is staff-only too.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curriculum.models import Course
from lms.qti import package, schemas, selectors


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

    def handle(self, *args, course, qti_version, output, validate, **options):
        try:
            bank = selectors.qti_bank_get(course_slug=course)
        except Course.DoesNotExist as exc:
            raise CommandError(f"No course with slug {course!r}.") from exc
        built = package.package_build(bank, version=qti_version)
        if validate:
            if qti_version != "2.1":
                raise CommandError("--validate needs --version 2.1: no offline QTI 3.0 schema exists.")
            problems = schemas.package21_errors(built.files)
            if problems:
                lines = [f"{path}:{error}" for path, errors in problems.items() for error in errors]
                raise CommandError("Schema errors:\n" + "\n".join(lines))
        target = Path(output or f"{course}-qti{qti_version.replace('.', '')}.zip")
        target.write_bytes(built.zip_bytes())
        self.stdout.write(
            f"Wrote {target}: QTI {qti_version}, {len(bank.items)} item(s), "
            f"{sum(1 for p in built.files if p.startswith('tests/'))} test(s)."
        )
