"""Learner and staff accounts, with the profile fields continuing education needs.

The account signs in by e-mail. The certificate name, profession and registry
identifiers live on the user row itself, so every page that needs them reads
them with the session's user query and no more.
"""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        # No address is longer than the column: answer "no such user" without asking. A
        # case-insensitive match is a LIKE on SQLite, which refuses patterns over 50,000
        # bytes with an error, and Django's log-in form does not enforce its max_length.
        if len(username) > self.model._meta.get_field("email").max_length:
            raise self.model.DoesNotExist(f"No user with an e-mail address of {len(username)} characters.")
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    class Profession(models.TextChoices):
        PHYSICIAN = "physician", "Physician (MD/DO)"
        NP = "np", "Nurse practitioner"
        PA = "pa", "Physician assistant"
        PHARMACIST = "pharmacist", "Pharmacist"
        NURSE = "nurse", "Nurse"
        OTHER = "other", "Other"

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(
        "full name for certificates",
        max_length=200,
        help_text="Exactly as it should appear on your certificate, e.g. Jane Q. Smith, MD.",
    )
    profession = models.CharField(
        max_length=20, choices=Profession.choices, default=Profession.OTHER
    )
    npi = models.CharField(
        "NPI", max_length=10, blank=True, help_text="National Provider Identifier (10 digits)."
    )
    nabp_eprofile_id = models.CharField(
        "NABP e-Profile ID",
        max_length=10,
        blank=True,
        help_text="Pharmacists and technicians: your CPE Monitor e-Profile ID.",
    )
    licence_number = models.CharField("licence number", max_length=40, blank=True)
    licence_state = models.CharField(
        "licence state", max_length=2, blank=True, help_text="Two-letter code, e.g. OH."
    )
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        constraints = [
            # One account per address whatever its case: "Jane@x.org" and
            # "jane@x.org" sign in to the same account.
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email
