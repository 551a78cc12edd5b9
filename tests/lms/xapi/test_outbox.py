"""End to end: learner events through `manage.py deliver_outbox --once` into a real LRS.

lms.xapi registers its destination with the outbox (apps.py); the outbox
fans events out to each organisation's active LRS endpoint, claims, sends
outside any transaction, retries and dead-letters. Transactional tests:
the outbox refuses to send inside a transaction.
"""

import datetime as dt
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from lms import outbox
from lms.models import Delivery, DeliveryAttempt
from lms.xapi import delivery, statements
from lms.xapi.models import LrsEndpoint
from tests.lms.factories import OrganisationFactory
from tests.lms.xapi.conftest import journey_make

pytestmark = pytest.mark.django_db(transaction=True)


def _deliver_once() -> str:
    out = StringIO()
    call_command("deliver_outbox", "--once", "--worker", "xapi-test", stdout=out)
    return out.getvalue()


def _expected(journey) -> Counter:
    return Counter({
        s["id"]: 1
        for e in journey.events if statements.has_statements(e)
        for s in delivery.event_statements(event=e, endpoint=journey.endpoint)
    })


def test_deliver_outbox_sends_every_event_to_the_lrs_once(ralph):
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    _deliver_once()
    rows = Delivery.objects.filter(kind="xapi")
    assert rows.count() == len([e for e in journey.events if statements.has_statements(e)])
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
    assert set(rows.values_list("destination_id", flat=True)) == {journey.endpoint.pk}
    _deliver_once()  # a second pass finds nothing new to send
    assert Counter(s["id"] for s in ralph.statements()) == _expected(journey)


def test_lrs_down_then_back_gets_each_statement_exactly_once(ralph):
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    ralph.stop()
    _deliver_once()
    rows = Delivery.objects.filter(kind="xapi")
    assert set(rows.values_list("status", "attempts")) == {(Delivery.Status.PENDING, 1)}
    assert all("Connection refused" in e for e in rows.values_list("last_error", flat=True))

    ralph.start()
    rows.update(next_attempt_at=timezone.now())  # the backoff has passed
    _deliver_once()
    assert set(rows.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
    assert Counter(s["id"] for s in ralph.statements()) == _expected(journey)


def test_lrs_refusing_our_credentials_is_dead_at_once(ralph):
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret="wrong")
    _deliver_once()
    rows = Delivery.objects.filter(kind="xapi")
    assert set(rows.values_list("status", "attempts")) == {(Delivery.Status.DEAD, 1)}
    assert all(e.startswith("HTTP 401") for e in rows.values_list("last_error", flat=True))
    assert ralph.statements() == []
    assert journey.endpoint.pk in set(rows.values_list("destination_id", flat=True))


def test_events_wait_while_the_endpoint_is_retired_or_its_organisation_off(ralph):
    """Fanned out while active, switched off before sending: held (no try), sent once when back."""
    journey = journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    outbox.outbox_fanout()
    LrsEndpoint.objects.filter(pk=journey.endpoint.pk).update(is_active=False)
    _deliver_once()
    journey.organisation.is_active = False
    journey.organisation.save()
    LrsEndpoint.objects.filter(pk=journey.endpoint.pk).update(is_active=True)
    _deliver_once()
    rows = Delivery.objects.filter(kind="xapi")
    assert set(rows.values_list("status", "attempts")) == {(Delivery.Status.PENDING, 0)}
    assert not DeliveryAttempt.objects.exists()
    assert ralph.statements() == []

    journey.organisation.is_active = True
    journey.organisation.save()
    _deliver_once()
    assert Counter(s["id"] for s in ralph.statements()) == _expected(journey)


def test_only_organisations_knowing_the_learner_get_the_events(ralph):
    """Another organisation's LRS hears nothing of this learner."""
    journey_make(url=ralph.xapi_url, key=ralph.key, secret=ralph.secret)
    other = OrganisationFactory()
    LrsEndpoint.objects.create(organisation=other, url="http://127.0.0.1:9/xAPI/", key="k", secret="s",
                               actor_home_page="https://other.example.org", created_at=timezone.now() - dt.timedelta(days=1))
    _deliver_once()
    assert not Delivery.objects.filter(kind="xapi", destination_id__in=LrsEndpoint.objects.filter(organisation=other)
                                       .values("pk")).exists()
