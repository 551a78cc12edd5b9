"""Where an organisation's xAPI statements go: its Learning Record Store (issue #7).

One `LrsEndpoint` per organisation may be active at a time; an active one
may be paused (`paused_at`), which holds its deliveries in the outbox. The outbox makes
one delivery per event and active endpoint of an organisation the learner
belongs to; `lms/xapi/delivery.py` builds the statements at delivery time from
these settings, so a corrected home page or credential applies to every
statement still waiting.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class LrsEndpoint(models.Model):
    """An organisation's LRS: its xAPI base URL, Basic credentials and actor policy.

    The secret is kept in clear because HTTP Basic must send it; like a webhook
    secret, it is write-only in the admin.
    """

    organisation = models.ForeignKey(
        "lms.Organisation", on_delete=models.PROTECT, related_name="lrs_endpoints"
    )
    url = models.URLField(
        "xAPI endpoint", max_length=500,
        help_text="The LRS's xAPI base, e.g. https://lrs.example.org/xAPI/ (statements are PUT below it).",
    )
    key = models.CharField("Basic auth key", max_length=200)
    secret = models.CharField("Basic auth secret", max_length=200)
    actor_home_page = models.URLField(
        max_length=500,
        help_text="The organisation's home page: learners are sent as the account "
        "{homePage, name: the organisation's ID for them}.",
    )
    identify_by_email = models.BooleanField(
        default=False,
        help_text="Send the learner's e-mail (mbox) instead of the account. Only with the "
        "organisation's written agreement: the LRS then holds a personal identifier.",
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Off: retired. No new events are queued for it; those already queued wait, unsent.",
    )
    # Paused (e.g. the LRS is being migrated): events are still queued for it
    # but held, not tried, so no pause is long enough to dead-letter them;
    # on resume they are sent oldest first, each once.
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while paused: events are queued but not sent until resumed."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation", "-created_at"]
        verbose_name = "LRS endpoint"
        constraints = [
            # One active LRS per organisation: each event reaches it once, and
            # a statement id (uuid5 of verb and object) is never sent to two
            # LRSs for the same learner and organisation with different actors.
            models.UniqueConstraint(
                fields=["organisation"], condition=Q(is_active=True), name="xapi_lrsendpoint_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} → {self.url}"

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def statements_url(self) -> str:
        return self.url.rstrip("/") + "/statements"
