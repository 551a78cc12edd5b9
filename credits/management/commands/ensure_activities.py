"""Give every course a CE activity record (run after load_curriculum; `make run` does)."""

from django.core.management.base import BaseCommand

from credits.services import activities_ensure


class Command(BaseCommand):
    help = "Create missing CE activity records with 'not accredited' placeholders (existing ones are kept)."

    def handle(self, *args, **options):
        for activity, created in activities_ensure():
            state = "created" if created else "kept"
            published = "published" if activity.is_published else "not published (see the publish check)"
            self.stdout.write(f"{activity.course.slug}: {state}, {published}")
