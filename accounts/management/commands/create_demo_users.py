"""Create (or reset) the demo learner and the staff author, and print how to sign in."""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

# pragma: allowlist nextline secret
DEMO_PASSWORD = "kratom-demo-2026"  # noqa: S105  (printed for local demos only; refused in production)
AUTHOR_APPS = ["curriculum", "quizzes", "credits"]
# The demo author may also export the question bank (lms's own permission: QTI and offline SCORM
# carry answer keys) and, among the credits permissions, the credit reports.
AUTHOR_EXTRA = ["export_answer_keys"]


class Command(BaseCommand):
    help = "Create a demo learner and a staff author (development only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo users are for development only (DJANGO_DEBUG is off).")
        authors, _ = Group.objects.get_or_create(name="Authors")
        authors.permissions.set(
            Permission.objects.filter(content_type__app_label__in=AUTHOR_APPS)
            | Permission.objects.filter(content_type__app_label="lms", codename__in=AUTHOR_EXTRA)
        )
        learner = self._user("learner@example.com", "Demo Learner, MD", User.Profession.PHYSICIAN)
        author = self._user("author@example.com", "Demo Author, PharmD", User.Profession.PHARMACIST, staff=True)
        author.groups.add(authors)
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for both: {DEMO_PASSWORD}):"))
        self.stdout.write(f"  learner: {learner.email}")
        self.stdout.write(f"  author (admin at /admin/): {author.email}")

    def _user(self, email: str, name: str, profession: str, staff: bool = False) -> User:
        user = User.objects.filter(email__iexact=email).first() or User(email=email)
        user.full_name = name
        user.profession = profession
        user.is_staff = staff
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user
