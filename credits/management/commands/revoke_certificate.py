"""Revoke a certificate, or reissue it (e.g. with a corrected name), by its verification code."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from credits.models import Certificate
from credits.services import certificate_reissue, certificate_revoke


class Command(BaseCommand):
    help = "Revoke (or with --reissue, revoke and reissue) a certificate; the old row is kept."

    def add_arguments(self, parser):
        parser.add_argument(
            "code",
            help='The verification code. A code that begins with "-" (codes issued before 2026-11-27 may) '
                 'goes last, after "--": revoke_certificate --reason ... --by ... -- -Ab3...',
        )
        parser.add_argument("--reason", required=True)
        parser.add_argument("--by", required=True, help="E-mail of the staff member acting.")
        parser.add_argument("--reissue", action="store_true")
        parser.add_argument("--name", default="", help="Corrected learner name for the reissued certificate.")

    def handle(self, *args, code, reason, by, reissue, name, **options):
        actor = User.objects.filter(email__iexact=by, is_staff=True).first()
        if actor is None:
            raise CommandError(f"No staff account {by}")
        certificate = Certificate.objects.filter(code=code).first()
        if certificate is None:
            raise CommandError("No certificate has this code")
        try:
            if reissue:
                new = certificate_reissue(certificate_id=certificate.pk, actor=actor, reason=reason, learner_name=name)
                self.stdout.write(f"Reissued as certificate {new.pk} (code {new.code}).")
            else:
                certificate_revoke(certificate_id=certificate.pk, actor=actor, reason=reason)
                self.stdout.write("Revoked.")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
