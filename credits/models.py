"""Continuing-education credit (issue #6): the activity record, completion
rules, evaluations, claims, certificates, reporting marks and the audit log.

`Activity` is the CE side of one `curriculum.Course`: the course row carries
what course.md says (faculty and disclosures, dates, commercial support,
privacy, hardware/software), the activity adds what a provider configures
(designations per credit type, provider name and address, completion rules,
reporting destinations). One record drives the activity page, the certificate
and the exports, so they never disagree.

Claims and certificates are immutable once written: the services only ever
insert them, the admin shows them read-only, and a correction is a new row
that names the one it supersedes, with who, when and why. Every foreign key
from a credit record is PROTECT, so deleting a lesson, a question or a user
cannot delete what a learner did for credit. Each write to these tables is
also an `AuditLog` entry, hash-chained so that an edit is detectable
(`manage.py verify_audit_log`).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from curriculum.models import Course, Objective


class CreditType(models.TextChoices):
    AMA_PRA_1 = "ama_pra_1", "AMA PRA Category 1 Credit™"
    ANCC = "ancc", "ANCC contact hours"
    ACPE = "acpe", "ACPE contact hours"
    COMPLETION = "completion", "Certificate of completion (not accredited)"


# Defaults for a new designation; the provider confirms them with its accreditor.
# AMA PRA Category 1 is claimed in quarter hours (AMA PRA booklet); contact
# hours are set here in quarter hours too and can be changed per designation.
DEFAULT_INCREMENTS = {
    CreditType.AMA_PRA_1: Decimal("0.25"),
    CreditType.ANCC: Decimal("0.25"),
    CreditType.ACPE: Decimal("0.25"),
    CreditType.COMPLETION: Decimal("0.25"),
}
ACCREDITED_TYPES = frozenset({CreditType.AMA_PRA_1, CreditType.ANCC, CreditType.ACPE})


class ActivityQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True, course__is_published=True)


class Activity(models.Model):
    """A course offered for CE credit, as configured by the provider."""

    course = models.OneToOneField(Course, on_delete=models.PROTECT, related_name="activity")
    provider_name = models.CharField(max_length=200, blank=True)
    provider_address = models.TextField(blank=True)
    # Completion rules are data: the provider chooses which apply.
    requires_lessons = models.BooleanField("requires every lesson completed", default=True)
    requires_posttest = models.BooleanField("requires the post-test passed", default=True)
    requires_evaluation = models.BooleanField("requires the evaluation submitted", default=True)
    # Reporting destinations: what a claim must carry is checked at claim time.
    reports_to_pars = models.BooleanField(
        "reports to ACCME PARS", default=False, help_text="AMA PRA claims then need a valid NPI."
    )
    pars_activity_id = models.CharField("PARS activity ID", max_length=40, blank=True)
    reports_to_ce_broker = models.BooleanField(
        "reports to CE Broker", default=False, help_text="Claims then need a licence number and state."
    )
    is_published = models.BooleanField(default=False, help_text="Set only by the publish action.")
    published_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["course__title"]
        constraints = [
            # Published means published by activity_publish, which stamps the time.
            models.CheckConstraint(
                condition=Q(is_published=False) | Q(published_at__isnull=False),
                name="credits_activity_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return str(self.course)


class CreditDesignation(models.Model):
    """The credit of one type an activity offers: maximum, increments, statements."""

    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="designations")
    credit_type = models.CharField(max_length=20, choices=CreditType.choices)
    max_amount = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Maximum credit (hours)."
    )
    increment = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("0.25"))
    designation_statement = models.TextField(
        blank=True,
        help_text="E.g. 'The provider designates this enduring material for a maximum of 1.50 AMA PRA "
        "Category 1 Credits™…'. Must state the amount.",
    )
    accreditation_statement = models.TextField(blank=True)
    uan = models.CharField(
        "ACPE UAN", max_length=24, blank=True, help_text="ACPE only: XXXX-XXXX-YY-NNN-H##-P (or -T)."
    )
    is_offered = models.BooleanField(default=True)

    class Meta:
        ordering = ["activity", "credit_type"]
        constraints = [
            # One designation per credit type: a claim names the type, the row follows.
            models.UniqueConstraint(fields=["activity", "credit_type"], name="credits_designation_type_unique"),
            models.CheckConstraint(condition=Q(increment__gt=0), name="credits_designation_increment_positive"),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gt=0),
                name="credits_designation_max_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity}: {self.get_credit_type_display()}"


class Evaluation(models.Model):
    """One learner's evaluation of one activity. Written once, never updated."""

    class PracticeChange(models.TextChoices):
        WILL_CHANGE = "will_change", "I will change my practice"
        CONSIDER = "consider", "I will consider changes"
        ALREADY = "already", "No change: I already practise this way"
        NOT_APPLICABLE = "not_applicable", "No change: not applicable to my practice"

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="evaluations")
    practice_change = models.CharField(max_length=20, choices=PracticeChange.choices)
    practice_change_detail = models.TextField(blank=True)
    perceived_bias = models.BooleanField(help_text="Did the learner perceive commercial bias?")
    bias_detail = models.TextField(blank=True)
    comments = models.TextField(blank=True)
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["activity", "submitted_at"]
        constraints = [
            # One evaluation per learner and activity: a double submit stores one.
            models.UniqueConstraint(fields=["learner", "activity"], name="credits_evaluation_once"),
        ]

    def __str__(self) -> str:
        return f"Evaluation of {self.activity} by {self.learner_id}"


class EvaluationAnswer(models.Model):
    """'The activity met this objective', on a 1-5 Likert scale. Rows, so the report is one GROUP BY."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.PROTECT, related_name="answers")
    objective = models.ForeignKey(Objective, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["evaluation", "objective"], name="credits_evalanswer_once"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="credits_evalanswer_likert"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluation_id}/{self.objective_id}: {self.rating}"


class Claim(models.Model):
    """A learner's attested claim of credit of one type. Immutable.

    Carries a snapshot of what reporting needs (name as entered, profession,
    NPI, NABP e-Profile ID with birth month/day, licence), checked at claim
    time, so a later profile edit changes neither the certificate nor an
    upload already made. A correction is a new claim naming the one it
    supersedes.
    """

    learner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_claims")
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="claims")
    designation = models.ForeignKey(CreditDesignation, on_delete=models.PROTECT, related_name="claims")
    credit_type = models.CharField(max_length=20, choices=CreditType.choices)
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    uan = models.CharField(max_length=24, blank=True)
    completed_on = models.DateField(help_text="When the last completion rule was met.")
    full_name = models.CharField(max_length=200, help_text="As entered: printed on the certificate.")
    given_name = models.CharField(max_length=100, blank=True, help_text="For PARS, which wants names split.")
    family_name = models.CharField(max_length=100, blank=True)
    profession = models.CharField(max_length=20)
    npi = models.CharField(max_length=10, blank=True)
    nabp_eprofile_id = models.CharField(max_length=10, blank=True)
    birth_month = models.PositiveSmallIntegerField(null=True, blank=True)
    birth_day = models.PositiveSmallIntegerField(null=True, blank=True)
    licence_number = models.CharField(max_length=40, blank=True)
    licence_state = models.CharField(max_length=2, blank=True)
    attested_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True, help_text="Why a correction was made.")

    class Meta:
        ordering = ["-attested_at"]
        constraints = [
            # A learner claims an activity once (any credit type): two tabs or
            # a double click make one claim. Corrections name what they supersede.
            models.UniqueConstraint(
                fields=["learner", "activity"],
                condition=Q(supersedes__isnull=True),
                name="credits_claim_once_per_activity",
            ),
            models.CheckConstraint(condition=Q(hours__gt=0), name="credits_claim_hours_positive"),
            models.CheckConstraint(
                condition=Q(birth_month__isnull=True) | Q(birth_month__gte=1, birth_month__lte=12),
                name="credits_claim_birth_month_valid",
            ),
        ]
        indexes = [
            # Provider reports: completions by date range and credit type.
            models.Index(fields=["completed_on", "credit_type"], name="credits_claim_done_type_idx"),
        ]
        # The credit reports (the staff report pages and CSVs, and their background export jobs)
        # carry learners' names, dates of birth and licence numbers: being staff is not enough.
        permissions = [("export_credit_report", "Can export credit reports (learner names, licence numbers)")]

    def __str__(self) -> str:
        return f"{self.full_name}: {self.hours} {self.get_credit_type_display()}"


class Certificate(models.Model):
    """What the learner was certified, exactly as shown. Immutable; revoke and reissue add rows."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="certificates")
    code = models.CharField(max_length=43, unique=True, help_text="secrets.token_urlsafe: the verification code.")
    learner_name = models.CharField(max_length=200)
    profession = models.CharField(max_length=60)
    activity_title = models.CharField(max_length=200)
    completed_on = models.DateField()
    credit_type = models.CharField(max_length=20, choices=CreditType.choices)
    credit_label = models.CharField(max_length=80)
    amount = models.DecimalField(max_digits=5, decimal_places=2)
    uan = models.CharField(max_length=24, blank=True)
    designation_statement = models.TextField(blank=True)
    accreditation_statement = models.TextField()
    provider_name = models.CharField(max_length=200)
    provider_address = models.TextField()
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    reason = models.TextField(blank=True, help_text="Why this certificate was reissued.")

    class Meta:
        ordering = ["-issued_at"]
        indexes = [
            # The certificate feed walks issues in order (lms.selectors.CertificateFeedQuery).
            models.Index(fields=["issued_at", "id"], name="credits_cert_issued_idx"),
        ]
        constraints = [
            # One original certificate per claim; a reissue supersedes it.
            models.UniqueConstraint(
                fields=["claim"], condition=Q(supersedes__isnull=True), name="credits_certificate_one_per_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner_name}: {self.activity_title} ({self.code[:6]}…)"

    @property
    def credit_line(self) -> str:
        """The amount as printed: '1.50 AMA PRA Category 1 Credits™' or '2.00 hours of participation'."""
        return credit_line(credit_type=self.credit_type, amount=self.amount, credit_label=self.credit_label)


def credit_line(*, credit_type: str, amount, credit_label: str) -> str:
    """A certificate's amount as printed (`Certificate.credit_line`), from its three fields."""
    if credit_type == CreditType.COMPLETION:
        return f"{amount} hours of participation (certificate of completion; not accredited)"
    return f"{amount} {credit_label}"


class CertificateRevocation(models.Model):
    """A certificate withdrawn: who, when, why. The certificate row itself never changes."""

    certificate = models.OneToOneField(Certificate, on_delete=models.PROTECT, related_name="revocation")
    revoked_at = models.DateTimeField()
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()

    class Meta:
        indexes = [
            # The certificate feed walks revocations in order (lms.selectors.CertificateFeedQuery).
            models.Index(fields=["revoked_at", "certificate"], name="credits_revocation_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="credits_revocation_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Revoked {self.certificate_id}"


class CertificatePdf(models.Model):
    """A certificate's PDF as first drawn (issue #8: drawing costs 150-250 ms of CPU).

    A separate row, so the certificate itself is never updated. Only a valid
    certificate's PDF is stored: a revoked or superseded one is drawn with
    its status line on every download (rare), never served from here.
    `source_key` hashes everything printed (the certificate's fields, the
    verification URL, the layout's version, credits/pdf.py), so a stored PDF
    is served only while it is what a fresh drawing would give.
    """

    # CASCADE: derived data, drawn again on demand; it must never hold a certificate back.
    certificate = models.OneToOneField(Certificate, on_delete=models.CASCADE, related_name="pdf")
    source_key = models.CharField(max_length=64)
    body = models.BinaryField()
    digest = models.CharField(max_length=64, help_text="sha256 of body: the download's ETag.")
    rendered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"PDF of certificate {self.certificate_id}"


class ClaimReport(models.Model):
    """A claim reported to an accreditor's system (CPE Monitor, PARS, CE Broker). Append-only."""

    class Destination(models.TextChoices):
        CPE_MONITOR = "cpe_monitor", "NABP CPE Monitor"
        PARS = "pars", "ACCME PARS"
        CE_BROKER = "ce_broker", "CE Broker"

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="reports")
    destination = models.CharField(max_length=20, choices=Destination.choices)
    reported_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reference = models.CharField(max_length=120, blank=True, help_text="Batch or upload reference.")

    class Meta:
        constraints = [
            # A claim is reported once per destination; the pending list is "no row yet".
            models.UniqueConstraint(fields=["claim", "destination"], name="credits_claimreport_once"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} -> {self.destination}"


class AuditHead(models.Model):
    """The tip of the audit chain: one row, locked by every append so entries form one line."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="credits_audithead_singleton"),
        ]

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class AuditLog(models.Model):
    """An append-only, hash-chained record of every change to credit records.

    `hash` is SHA-256 over the canonical JSON of (seq, occurred_at, actor_id,
    action, object_ref, data, prev_hash); `prev_hash` is the hash of entry
    seq - 1, so editing or deleting an entry breaks the chain at that point.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=60)
    object_ref = models.CharField(max_length=120)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            # Each hash is followed by at most one entry: the chain cannot fork.
            models.UniqueConstraint(fields=["prev_hash"], name="credits_auditlog_no_fork"),
        ]
        indexes = [
            # "What happened to this claim/certificate?" in the admin.
            models.Index(fields=["object_ref"], name="credits_audit_obj_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_ref}"
