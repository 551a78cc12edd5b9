"""Validate and load the course content into the database, all or nothing.

The command lives in `quizzes`, the lowest app that knows both halves of the
content: lessons (curriculum) and the question bank (quizzes). Curriculum
cannot import quizzes (see .importlinter).
"""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from curriculum import content
from curriculum.models import Course
from curriculum.services import ContentInvalid, curriculum_load
from quizzes.services import ItemBankReport, item_bank_sync


class Command(BaseCommand):
    help = "Validate the course folders under curriculum/content/ and load them in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("--content-dir", default=None, help="Folder holding course folders.")

    def handle(self, *args, content_dir=None, **options):
        root = Path(content_dir or settings.CURRICULUM_CONTENT_DIR)
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        dirs = content.content_dirs(root)
        if not dirs:
            raise CommandError(f"no course folders (with a course.md) under {root}")
        bundles = []
        for course_dir in dirs:
            self.stdout.write(f"Validating {course_dir.name} ...")
            bundles.append(content.course_bundle_parse(course_dir, content_root=root))
        for bundle in bundles:
            for warning in bundle.warnings:
                self.stderr.write(str(warning))
        items = ItemBankReport()
        try:
            # One transaction for lessons and items: a bad item loads nothing.
            with transaction.atomic():
                report = curriculum_load(bundles=bundles, progress=self.stdout.write)
                for bundle in bundles:
                    course = Course.objects.get(slug=bundle.course["slug"])
                    result = item_bank_sync(course=course, items=bundle.items)
                    for name in ("created", "updated", "unchanged", "removed", "quizzes_created"):
                        getattr(items, name).extend(getattr(result, name))
        except ContentInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(exc.problems)} problem(s) in the content; nothing was loaded."
            ) from None
        except ValidationError as exc:
            for message in exc.messages:
                self.stderr.write(message)
            raise CommandError("the item bank could not be stored; nothing was loaded.") from None
        summary = (
            f"created {len(report.created)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)}, removed {len(report.removed)}"
        )
        item_summary = (
            f"items: created {len(items.created)}, updated {len(items.updated)}, "
            f"unchanged {len(items.unchanged)}, removed {len(items.removed)}; "
            f"quizzes created {len(items.quizzes_created)}"
        )
        if report.changed or items.changed:
            self.stdout.write(self.style.SUCCESS(f"Loaded: {summary}; {item_summary}."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"No changes: the database already matches the content ({summary}; {item_summary})."
                )
            )
