"""Recompute the credit audit log's hash chain; exit non-zero at the first entry that does not match."""

from django.core.management.base import BaseCommand, CommandError

from credits.services import audit_verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit log of claims and certificates."

    def handle(self, *args, **options):
        verdict = audit_verify()
        if not verdict.ok:
            raise CommandError(f"Audit log does not verify: {verdict.problem} ({verdict.checked} entries good before it)")
        self.stdout.write(self.style.SUCCESS(f"Audit log verifies: {verdict.checked} entries, chain intact."))
