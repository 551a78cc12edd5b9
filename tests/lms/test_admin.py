"""Staff screens: a token or webhook secret is shown once; dead deliveries can be re-queued."""

import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from curriculum.services import learner_event_record
from lms.models import Delivery, IntegrationToken, WebhookSubscription
from lms.selectors import integration_token_authenticate
from tests.factories import UserFactory
from tests.lms.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_token_created_in_the_admin_is_shown_once_and_stored_hashed(staff_client):
    org = OrganisationFactory()
    response = staff_client.post(
        reverse("admin:lms_integrationtoken_add"),
        {"organisation": org.pk, "name": "Canvas", "scopes": ["catalog:read", "progress:read"]},
    )
    assert response.status_code == HTTPStatus.OK
    raw = re.search(r'<code id="secret">([^<]+)</code>', response.content.decode()).group(1)
    token = integration_token_authenticate(raw=raw)
    assert token.scopes == ["catalog:read", "progress:read"]
    detail = staff_client.get(reverse("admin:lms_integrationtoken_change", args=[token.pk]))
    assert raw not in detail.content.decode()
    secret = raw.split("_", 2)[2]  # ce_<lookup>_<secret>; the secret itself may contain "_"
    assert secret not in staff_client.get(reverse("admin:lms_integrationtoken_changelist")).content.decode()


def test_revoke_action_stops_the_token(staff_client):
    org = OrganisationFactory()
    from lms.services import integration_token_create

    token, raw = integration_token_create(organisation=org, name="x", scopes=["catalog:read"])
    staff_client.post(
        reverse("admin:lms_integrationtoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )
    assert IntegrationToken.objects.get().revoked_at is not None
    assert integration_token_authenticate(raw=raw) is None


def test_webhook_secret_is_shown_once_at_creation(staff_client):
    org = OrganisationFactory()
    response = staff_client.post(
        reverse("admin:lms_webhooksubscription_add"),
        {"organisation": org.pk, "url": "https://hooks.example.org/ce", "events": ["lesson.completed"], "is_active": "on"},
    )
    secret = re.search(r'<code id="secret">([^<]+)</code>', response.content.decode()).group(1)
    subscription = WebhookSubscription.objects.get()
    assert secret == subscription.secret and secret.startswith("whsec_")
    page = staff_client.get(reverse("admin:lms_webhooksubscription_change", args=[subscription.pk]))
    assert secret not in page.content.decode()


def test_requeue_action_puts_dead_deliveries_back_and_leaves_delivered_ones(staff_client):
    org = OrganisationFactory()
    from lms.services import webhook_subscription_create

    subscription, _ = webhook_subscription_create(organisation=org, url="https://hooks.example.org/", events=["lesson.completed"])
    user = UserFactory()
    dead, delivered = (
        Delivery.objects.create(
            event=learner_event_record(learner=user, verb="completed", obj=other),
            kind="webhook", subscription=subscription, event_type="lesson.completed",
            idempotency_key=f"msg_{other.pk}", status=status, attempts=8,
        )
        for other, status in ((UserFactory(), "dead"), (UserFactory(), "delivered"))
    )
    staff_client.post(
        reverse("admin:lms_delivery_changelist"), {"action": "requeue", "_selected_action": [dead.pk, delivered.pk]}
    )
    dead.refresh_from_db()
    delivered.refresh_from_db()
    assert (dead.status, dead.attempts) == ("pending", 0)
    assert delivered.status == "delivered"
    page = staff_client.get(reverse("admin:lms_delivery_change", args=[dead.pk]))
    assert page.status_code == HTTPStatus.OK
