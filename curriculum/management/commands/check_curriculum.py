"""Validate every course folder without writing anything (authors and CI)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from curriculum import content


class Command(BaseCommand):
    help = "Validate the course content (lessons, items, tables) and print file:line per problem."

    def add_arguments(self, parser):
        parser.add_argument("--content-dir", default=None, help="Folder holding course folders.")

    def handle(self, *args, content_dir=None, **options):
        root = Path(content_dir or settings.CURRICULUM_CONTENT_DIR)
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        problems = []
        for course_dir in content.content_dirs(root):
            bundle = content.course_bundle_parse(course_dir, content_root=root)
            problems.extend(bundle.problems)
            self.stdout.write(
                f"{course_dir.name}: {len(bundle.lessons)} lessons, {len(bundle.items)} items, "
                f"{len(bundle.interactions)} interactions, {len(bundle.myths)} myths"
            )
        for problem in problems:
            self.stderr.write(str(problem))
        if problems:
            raise CommandError(f"{len(problems)} problem(s) found")
        self.stdout.write(self.style.SUCCESS("Content is valid."))
