"""`manage.py create_integration_token --org SLUG --scopes a,b [--name NAME]`: print a new token once."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from lms import services
from lms.models import Organisation, Scope


class Command(BaseCommand):
    help = "Create an integration token for an organisation and print it (it is not stored and cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--scopes", required=True, help=f"Comma-separated: {', '.join(Scope.values)}.")
        parser.add_argument("--name", default="", help="Who uses it, e.g. 'Canvas production'.")

    def handle(self, *args, org, scopes, name, **options):
        organisation = Organisation.objects.filter(slug=org).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {org!r}.")
        try:
            token, raw = services.integration_token_create(
                organisation=organisation,
                name=name or f"token for {organisation.slug}",
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(f"Created {token} with scopes {', '.join(token.scopes)}. Shown once:")
        self.stdout.write(raw)
