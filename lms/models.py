"""LMS integration: organisations, their learners and integration tokens,
webhook subscriptions, and the delivery side of the outbox (issue #7).

An `Organisation` is an integrator (a health system's LMS, a CE provider's
portal). It knows its learners by its own identifiers (`ExternalLearner`),
enrols them in courses (`Enrolment`), and calls the API with an
`IntegrationToken` that sees that organisation's learners alone.

The outbox itself is `curriculum.LearnerEvent`, written in the same
transaction as the fact it reports. `lms/outbox.py` fans each event out into
one `Delivery` per destination (a `WebhookSubscription` now; an LRS or an LTI
gradebook later) and sends it outside any transaction, logging each try as a
`DeliveryAttempt`. Payloads are built at delivery, from the event registry.
"""

import base64
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lms.exports.storage import export_storage


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True, help_text="Off: its tokens stop working.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExternalLearner(models.Model):
    """A learner as one organisation knows them: its own ID for our account."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="learners")
    external_id = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="external_identities"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation", "external_id"]
        constraints = [
            # Enrolment sync is keyed by the integrator's ID: the same request
            # twice, or two at once, finds or creates this one row.
            models.UniqueConstraint(
                fields=["organisation", "external_id"], name="lms_externallearner_id_unique"
            ),
            # One identity per account and organisation, so a feed row names
            # exactly one external ID.
            models.UniqueConstraint(
                fields=["organisation", "user"], name="lms_externallearner_user_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation.slug}:{self.external_id}"


class Enrolment(models.Model):
    """An organisation placed its learner in a course; the feeds report on these."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"

    learner = models.ForeignKey(ExternalLearner, on_delete=models.PROTECT, related_name="enrolments")
    course = models.ForeignKey("curriculum.Course", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["learner", "course"]
        constraints = [
            # Idempotent sync: one enrolment per learner identity and course.
            models.UniqueConstraint(fields=["learner", "course"], name="lms_enrolment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} in {self.course_id}"


class Scope(models.TextChoices):
    CATALOG_READ = "catalog:read", "Read the catalogue"
    ENROLMENTS_WRITE = "enrolments:write", "Create and update learners and enrolments"
    PROGRESS_READ = "progress:read", "Read learners' progress"
    COMPLETIONS_READ = "completions:read", "Read the completions feed"


TOKEN_PREFIX = "ce_"  # noqa: S105 (a public prefix, not a secret)


def token_digest(raw: str) -> str:
    """sha256 of the whole token. The secret part has 256 bits of entropy, so a
    fast hash is enough (no brute force to slow down), and lookup stays cheap."""
    return hashlib.sha256(raw.encode()).hexdigest()


class IntegrationToken(models.Model):
    """A system's credential: shown once, stored as a hash, scoped to one organisation.

    The raw token is `ce_<lookup>_<secret>`; `lookup` finds the row by index,
    `digest` (sha256 of the whole token) proves it, compared in constant time.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=200, help_text="Who uses it, e.g. 'Canvas production'.")
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list, help_text="Any of " + ", ".join(Scope.values))
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.lookup}_…)"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new raw token with its lookup and digest. The raw token is never stored."""
        lookup = secrets.token_hex(6)
        raw = f"{TOKEN_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
        return raw, lookup, token_digest(raw)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class WebhookSubscription(models.Model):
    """An organisation's URL that hears of chosen events about its learners.

    The secret must be kept in clear to sign each payload (HMAC); it is shown
    once at creation and never displayed again.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types, e.g. ['lesson.completed'].")
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation", "url"]

    def __str__(self) -> str:
        return f"{self.organisation.slug} → {self.url}"

    @staticmethod
    def generate_secret() -> str:
        """A Standard Webhooks secret: 'whsec_' and 32 random bytes in base64."""  # pragma: allowlist secret
        return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class EventFanout(models.Model):
    """Marks a LearnerEvent as turned into its deliveries (zero or more).

    A separate row rather than a high-water mark on the event id: ids are
    handed out before commit, so a transaction committing after a later id
    would be skipped by a mark and its event never sent.
    """

    event = models.OneToOneField(
        "curriculum.LearnerEvent", on_delete=models.PROTECT, related_name="fanout"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"fan-out of event {self.event_id}"


class Delivery(models.Model):
    """One event on its way to one destination; retried until sent or dead."""

    class Kind(models.TextChoices):
        # Built in. Other destinations (an LRS, an LTI gradebook) register
        # their own kind with lms.outbox.destination_register().
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        DEAD = "dead", "Dead (gave up; re-queue from the admin)"

    event = models.ForeignKey("curriculum.LearnerEvent", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, help_text="webhook, or a registered destination kind.")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.PROTECT, null=True, blank=True, related_name="deliveries"
    )
    # For registered destinations: the id of their own row (an LRS endpoint,
    # a resource link), which the destination's sender reads back.
    destination_id = models.PositiveBigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=60)
    # Sent as `webhook-id` / `Idempotency-Key` on every try, so a receiver that
    # saw a try whose response we lost can drop the repeat.
    idempotency_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When a worker may next take it. A claiming worker pushes it a lease ahead,
    # so the row is invisible to other workers while it is being sent.
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            # Fan-out is idempotent: one delivery per event and subscription,
            # whichever worker or rerun fans the event out.
            models.UniqueConstraint(
                fields=["event", "subscription"],
                condition=Q(subscription__isnull=False),
                name="lms_delivery_once_per_subscription",
            ),
            # ...and one per event and registered destination.
            models.UniqueConstraint(
                fields=["event", "kind", "destination_id"],
                condition=Q(destination_id__isnull=False),
                name="lms_delivery_once_per_destination",
            ),
            # A webhook delivery names its subscription; any other names its destination row.
            models.CheckConstraint(
                condition=(Q(kind="webhook") & Q(subscription__isnull=False) & Q(destination_id__isnull=True))
                | (~Q(kind="webhook") & Q(subscription__isnull=True) & Q(destination_id__isnull=False)),
                name="lms_delivery_names_its_destination",
            ),
        ]
        indexes = [
            # The worker's claim query: due pending rows, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="lms_delivery_due_idx",
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_id} → {self.kind} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: the log an operator reads."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.TextField(blank=True)
    started_at = models.DateTimeField()
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} try {self.number}: {self.outcome}"


class ExportJob(models.Model):
    """One export (QTI, SCORM, a credit report) built in the background for a person.

    A worker (`deliver_outbox` or `run_export_jobs`, lms/exports/services.py)
    claims a queued job under a row lock, reports progress as it writes, and
    stores the file under LMS_EXPORTS_ROOT, which no URL serves: the file is
    downloaded through the job's view, which checks the requester or the
    kind's permission. Parameters are what the management command takes.
    """

    class Kind(models.TextChoices):
        QTI = "qti", "QTI question bank"
        SCORM = "scorm", "SCORM package"
        CREDIT_REPORT = "credit_report", "Credit report (CSV)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Done, and older than LMS_EXPORT_RETENTION_HOURS: the file is deleted, the row kept.
        EXPIRED = "expired", "Expired"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    parameters = models.JSONField(default=dict, help_text="Course, version, mode, report, dates.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    # None while the size of the work is unknown (a CSV report streams its rows).
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=200, blank=True)
    file = models.FileField(upload_to="exports/%Y/%m/", storage=export_storage, blank=True)
    filename = models.CharField(max_length=200, blank=True, help_text="Name offered to the browser.")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    runs = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started it.")
    claimed_by = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved on every progress report: a running job whose heartbeat is older
    # than LMS_EXPORT_STALE_SECONDS belongs to a worker that died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            # QTI packages and self-contained SCORM packages carry answer keys:
            # being staff (every course author is) is not enough to take them away.
            ("export_answer_keys", "Can export packages that contain answer keys (QTI, offline SCORM)"),
        ]
        constraints = [
            # The bar never runs past its end.
            models.CheckConstraint(
                condition=Q(progress_total__isnull=True) | Q(progress_done__lte=models.F("progress_total")),
                name="lms_exportjob_progress_within_total",
            ),
            # A finished job has its file; a failed one says why.
            models.CheckConstraint(
                condition=~Q(state="done") | ~Q(file=""),
                name="lms_exportjob_done_has_file",
            ),
        ]
        indexes = [
            # The worker's claim query: queued jobs, oldest first.
            models.Index(fields=["created_at"], condition=Q(state="queued"), name="lms_exportjob_queued_idx"),
            # Every worker pass looks for done jobs past the retention.
            models.Index(fields=["finished_at"], condition=Q(state="done"), name="lms_exportjob_done_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"


# --- learner-confirmed links (issue #7: enrolment sync for an e-mail that has an account) ---


class LinkRequest(models.Model):
    """An organisation asks to know an account that already exists as its learner.

    Enrolment sync never links an existing account by e-mail alone: an
    integrator that knew a clinician's address could otherwise read their
    progress. It records this request instead, and the account holder
    confirms or declines it at /accounts/links/. Only a confirmation creates
    the `ExternalLearner` and its enrolments, so until then no
    organisation-scoped read (feeds, learner detail, webhook and LRS fan-out)
    sees anything of the account.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the learner"
        CONFIRMED = "confirmed", "Confirmed by the learner"
        DECLINED = "declined", "Declined by the learner"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="link_requests")
    external_id = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="link_requests")
    # What the organisation sent, echoed back to it alone: the account's own
    # name and e-mail are never shown to the organisation before confirmation.
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200)
    # {course slug: enrolment status} to create on confirmation; later syncs update it.
    courses = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Idempotent sync: the same request twice (or two at once) finds this one row.
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=Q(status="pending"),
                name="lms_linkrequest_one_pending_per_id",
            ),
            # One open question per account and organisation: the learner is not asked twice.
            models.UniqueConstraint(
                fields=["organisation", "user"],
                condition=Q(status="pending"),
                name="lms_linkrequest_one_pending_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation.slug}:{self.external_id} → user {self.user_id} ({self.status})"
