"""The admin: publishing runs the check; credit records are read-only; revoke/reissue command."""

from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from credits import services
from credits.models import Activity, AuditLog, Certificate, CertificateRevocation
from tests.credits.factories import ActivityFactory, DesignationFactory, claim_input
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_publish_action_refuses_and_lists_problems(admin_client):
    activity = ActivityFactory(is_published=False, published_at=None, provider_address="")
    DesignationFactory(activity=activity, credit_type="acpe", uan="12-34")
    response = admin_client.post(
        reverse("admin:credits_activity_changelist"),
        {"action": "publish", "_selected_action": [activity.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "was not published" in body
    assert "provider&#x27;s address is missing" in body
    assert "Universal Activity Number" in body
    assert not Activity.objects.get(pk=activity.pk).is_published


def test_publish_action_publishes_a_clean_activity(admin_client):
    activity = ActivityFactory(is_published=False, published_at=None)
    DesignationFactory(activity=activity)
    admin_client.post(reverse("admin:credits_activity_changelist"),
                      {"action": "publish", "_selected_action": [activity.pk]})
    assert Activity.objects.get(pk=activity.pk).is_published


@pytest.mark.parametrize("model", ["claim", "certificate", "auditlog", "evaluation", "certificaterevocation"])
def test_credit_records_cannot_be_added_in_the_admin(admin_client, model):
    response = admin_client.get(reverse(f"admin:credits_{model}_add"))
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_certificate_cannot_be_changed_or_deleted_in_the_admin(admin_client, completed, learner):
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    response = admin_client.post(reverse("admin:credits_certificate_delete", args=[certificate.pk]), {"post": "yes"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Certificate.objects.filter(pk=certificate.pk).exists()


def test_revoke_command_reissues_with_corrected_name(completed, learner):
    staff = UserFactory(is_staff=True)
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    out = StringIO()
    call_command("revoke_certificate", certificate.code, "--reason", "Name misspelt", "--by", staff.email,
                 "--reissue", "--name", "Jane Q. Correct, MD", stdout=out)
    new = Certificate.objects.get(supersedes=certificate)
    assert new.learner_name == "Jane Q. Correct, MD"
    assert list(AuditLog.objects.values_list("action", flat=True))[-2:] == ["certificate.revoked",
                                                                            "certificate.issued"]
    assert services.audit_verify().ok


def test_revoke_command_takes_a_code_that_begins_with_a_dash_after_double_dash(completed, learner):
    """Codes issued before new ones stopped beginning with "-" stay revocable from the command line."""
    staff = UserFactory(is_staff=True)
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    Certificate.objects.filter(pk=certificate.pk).update(code="-" + certificate.code[1:])
    out = StringIO()
    call_command("revoke_certificate", "--reason", "Issued in error", "--by", staff.email, "--",
                 "-" + certificate.code[1:], stdout=out)
    assert out.getvalue().strip() == "Revoked."
    assert CertificateRevocation.objects.filter(certificate=certificate).exists()


def test_a_new_certificate_code_never_begins_with_a_dash(completed, learner, monkeypatch):
    """One token_urlsafe draw in 64 begins with "-", which the command line would read as an
    option: such a draw is made again."""
    from credits import services as credit_services

    draws = iter(["-" + "a" * 21, "-" + "b" * 21, "c" * 22])
    monkeypatch.setattr(credit_services.secrets, "token_urlsafe", lambda nbytes: next(draws))
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    assert certificate.code == "c" * 22


def test_activity_change_page_renders_with_designations(admin_client, activity):
    response = admin_client.get(reverse("admin:credits_activity_change", args=[activity.pk]))
    assert response.status_code == HTTPStatus.OK
    assert "designations-0-uan" in response.content.decode()


def test_recheck_after_an_edit_unpublishes_a_now_invalid_activity(activity):
    activity.designations.update(max_amount=None)
    problems = services.activity_recheck(activity_id=activity.pk, actor=None)
    assert problems == ["AMA PRA Category 1 Credit™: the credit amount is missing."]
    assert not Activity.objects.get(pk=activity.pk).is_published
