"""`manage.py export_scorm COURSE [--version 1.2|2004] [--mode connected|self-contained] [--output X.zip]`.

Writes a SCORM package of the course (lms/scorm/package.py explains the two
modes). A connected package names our server (`--server-url`, default the
LMS_PUBLIC_URL or CREDITS_PUBLIC_URL setting) and carries a signed token for one organisation
(`--organisation`, created on first use with the default slug), whose
switch-off stops the package.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lms.exports import builders
from lms.scorm import package, services


class Command(BaseCommand):
    help = "Export a course as a SCORM 1.2 or 2004 package (connected to this server, or self-contained)."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # The brief's `--version 1.2|2004` replaces Django's own --version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("course", help="Course slug.")
        parser.add_argument("--version", dest="scorm_version", choices=package.VERSIONS, default="1.2")
        parser.add_argument("--mode", choices=package.MODES, default="connected")
        parser.add_argument("--output", help="Zip to write (default: <course>-scorm<version>-<mode>.zip).")
        parser.add_argument("--server-url", default=getattr(settings, "LMS_PUBLIC_URL", "") or settings.CREDITS_PUBLIC_URL,
                            help="Our site's origin, e.g. https://ce.example.org (connected mode).")
        parser.add_argument("--organisation", default=services.DEFAULT_ORGANISATION,
                            help="Slug of the organisation whose LMS runs the package (connected mode).")

    def handle(self, *args, course, scorm_version, mode, output, server_url, organisation, verbosity, **options):
        progress = builders.CommandProgress(self.stdout.write, "lessons") if verbosity >= 1 else None
        try:
            export = builders.scorm_export(
                course=course, version=scorm_version, mode=mode, server_url=server_url,
                organisation=organisation, progress=progress,
            )
        except builders.ExportError as exc:
            raise CommandError(str(exc)) from exc
        target = Path(output or export.filename)
        with target.open("wb") as out:
            export.write(out)
        self.stdout.write(f"Wrote {target}: {export.summary}.")
