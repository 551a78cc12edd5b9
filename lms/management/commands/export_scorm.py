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

from curriculum.models import Course
from lms.scorm import package, schemas, selectors, services, tokens


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

    def handle(self, *args, course, scorm_version, mode, output, server_url, organisation, **options):
        if mode == "connected":
            built = self._connected(course, scorm_version, server_url, organisation)
        else:
            try:
                offline = selectors.scorm_course_get(course_slug=course)
            except Course.DoesNotExist as exc:
                raise CommandError(f"No published course with slug {course!r}.") from exc
            built = package.offline_build(version=scorm_version, offline=offline)
        problems = schemas.manifest_errors(scorm_version, built.files["imsmanifest.xml"])
        if problems:  # a bug of ours: never hand an LMS a manifest it may reject
            raise CommandError("imsmanifest.xml fails the ADL schema:\n" + "\n".join(problems))
        target = Path(output or f"{course}-scorm{scorm_version.replace('.', '')}-{mode}.zip")
        target.write_bytes(built.zip_bytes())
        self.stdout.write(f"Wrote {target}: SCORM {scorm_version}, {mode}, {len(built.files)} file(s).")

    def _connected(self, course_slug, version, server_url, organisation_slug):
        if not server_url.startswith(("https://", "http://")):
            raise CommandError("A connected package needs --server-url (our site's origin, https://...).")
        course = Course.objects.published().filter(slug=course_slug).first()
        if course is None:
            raise CommandError(f"No published course with slug {course_slug!r}.")
        org = services.scorm_default_organisation(slug=organisation_slug)
        if not org.is_active:
            raise CommandError(f"Organisation {organisation_slug!r} is switched off.")
        token = tokens.package_token(tokens.PackageClaim(course_slug=course.slug, organisation_id=org.pk,
                                                         version=version))
        return package.connected_build(version=version, course=course, server_url=server_url, package_token=token)
