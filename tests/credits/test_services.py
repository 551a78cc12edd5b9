"""Claims, certificates, evaluations, publishing and the audit log, through the services."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import ProtectedError

from credits import selectors, services
from credits.models import (
    Activity,
    AuditLog,
    Certificate,
    CertificateRevocation,
    Claim,
    CreditType,
    Evaluation,
)
from curriculum.models import Course, LearnerEvent, Objective
from tests.credits.factories import (
    ActivityFactory,
    DesignationFactory,
    acpe_designation,
    claim_input,
    evaluation_submit,
    lessons_complete,
    posttest_pass,
)
from tests.factories import CourseFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_claim_issues_certificate_with_snapshot(completed, learner):
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    assert certificate.learner_name == "Jane Q. Placeholder, MD"
    assert certificate.amount == Decimal("1.50")
    assert certificate.activity_title == completed.course.title
    assert certificate.provider_name == "Placeholder Provider"
    assert len(certificate.code) >= 22


def test_claim_records_outbox_events_and_audit_entries(completed, learner):
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    verbs = set(LearnerEvent.objects.filter(learner=learner).values_list("verb", flat=True))
    actions = list(AuditLog.objects.values_list("action", flat=True))
    assert {"credit_claimed", "certificate_issued"} <= verbs
    assert actions[-2:] == ["claim.created", "certificate.issued"]
    assert certificate.code not in str(AuditLog.objects.values_list("data", flat=True))


def test_claim_before_completion_is_refused(activity, learner):
    lessons_complete(learner, activity)
    with pytest.raises(services.ClaimRefused, match="Pass the post-test"):
        services.claim_create(learner=learner, activity_id=activity.pk, data=claim_input())
    assert not Claim.objects.exists()


def test_failed_posttest_does_not_complete(activity, learner):
    lessons_complete(learner, activity)
    posttest_pass(learner, activity, passed=False)
    evaluation_submit(learner, activity)
    completion = selectors.completion_get(activity=activity, learner=learner)
    assert [rule.key for rule in completion.rules if not rule.met] == ["posttest"]


def test_completion_rules_are_data(activity, learner):
    Activity.objects.filter(pk=activity.pk).update(requires_posttest=False, requires_evaluation=False)
    activity.refresh_from_db()
    lessons_complete(learner, activity)
    assert selectors.completion_get(activity=activity, learner=learner).complete


def test_second_claim_is_refused(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    with pytest.raises(services.ClaimRefused, match="already claimed"):
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(hours=Decimal("2")))
    assert Claim.objects.count() == 1
    assert Certificate.objects.count() == 1


def test_claim_after_expiry_is_refused(completed, learner):
    day_after = completed.course.expiry_date + dt.timedelta(days=1)
    with pytest.raises(services.ClaimRefused, match="expired"):
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(), today=day_after)


def test_claim_over_maximum_hours_is_refused(completed, learner):
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(hours=Decimal("2.25")))
    assert "at most 2.00" in caught.value.message_dict["hours"][0]


def test_claim_not_in_increments_is_refused(completed, learner):
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(hours=Decimal("1.10")))
    assert "steps of 0.25" in caught.value.message_dict["hours"][0]


def test_claim_with_wrong_npi_check_digit_is_refused(completed, learner):
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(npi="1234567890"))
    assert "npi" in caught.value.message_dict
    assert not Claim.objects.exists()


def test_claim_without_attestation_is_refused(completed, learner):
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(attested=False))
    assert "attested" in caught.value.message_dict


def test_pharmacy_claim_with_malformed_nabp_id_is_refused(completed, learner):
    acpe_designation(completed)
    data = claim_input(credit_type=CreditType.ACPE, npi="", nabp_eprofile_id="12-345", birth_month=3, birth_day=14)
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=data)
    assert list(caught.value.message_dict) == ["nabp_eprofile_id"]


def test_pharmacy_claim_needs_a_real_birth_month_and_day(completed, learner):
    acpe_designation(completed)
    data = claim_input(credit_type=CreditType.ACPE, nabp_eprofile_id="1234567", birth_month=2, birth_day=30)
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=data)
    assert list(caught.value.message_dict) == ["birth_day"]


def test_pharmacy_claim_carries_uan_to_certificate(completed, learner):
    acpe_designation(completed)
    data = claim_input(credit_type=CreditType.ACPE, nabp_eprofile_id="1234567", birth_month=2, birth_day=29)
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=data)
    assert certificate.uan == "0000-0000-26-001-H01-P"
    assert certificate.claim.nabp_eprofile_id == "1234567"


def test_ce_broker_activity_needs_licence_number_and_state(completed, learner):
    Activity.objects.filter(pk=completed.pk).update(reports_to_ce_broker=True)
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(licence_state="Ohio"))
    assert set(caught.value.message_dict) == {"licence_number", "licence_state"}


def test_pars_activity_needs_npi_or_licence_and_birthday(completed, learner):
    Activity.objects.filter(pk=completed.pk).update(reports_to_pars=True)
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(npi=""))
    assert set(caught.value.message_dict) == {"npi", "birth_day"}


def test_credit_type_not_offered_is_refused(completed, learner):
    with pytest.raises(ValidationError) as caught:
        services.claim_create(learner=learner, activity_id=completed.pk,
                              data=claim_input(credit_type=CreditType.ANCC))
    assert "credit_type" in caught.value.message_dict


def test_unpublished_activity_refuses_claims(completed, learner):
    services.activity_unpublish(activity_id=completed.pk, actor=None, reason="test")
    with pytest.raises(services.ClaimRefused, match="does not offer credit"):
        services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())


def test_evaluation_is_stored_once(activity, learner):
    first = evaluation_submit(learner, activity)
    second = evaluation_submit(learner, activity)
    assert first.pk == second.pk
    assert Evaluation.objects.count() == 1
    assert first.answers.count() == 2


def test_evaluation_must_rate_every_objective(activity, learner):
    with pytest.raises(ValidationError):
        services.evaluation_submit(learner=learner, activity=activity, ratings={}, practice_change="consider",
                                   perceived_bias=False)
    assert not Evaluation.objects.exists()


def test_publish_refuses_listing_every_problem(db):
    activity = ActivityFactory(is_published=False, published_at=None, provider_address="",
                               course__privacy="")
    DesignationFactory(activity=activity, max_amount=None)
    with pytest.raises(services.PublishRefused) as caught:
        services.activity_publish(activity_id=activity.pk, actor=None)
    assert len(caught.value.problems) == 3
    activity.refresh_from_db()
    assert not activity.is_published


def test_publish_succeeds_when_the_check_is_clean(db):
    activity = ActivityFactory(is_published=False, published_at=None)
    DesignationFactory(activity=activity)
    services.activity_publish(activity_id=activity.pk, actor=None)
    activity.refresh_from_db()
    assert activity.is_published
    assert AuditLog.objects.filter(action="activity.published").count() == 1


def test_ensure_activities_gives_bundled_course_an_honest_placeholder(db):
    course = CourseFactory(disclosure_mitigation="Placeholder: to be completed.",
                           accreditation_notice="This activity is not accredited.")
    call_command("ensure_activities", stdout=open("/dev/null", "w"))  # noqa: SIM115
    activity = Activity.objects.get(course=course)
    (designation,) = activity.designations.all()
    assert designation.credit_type == CreditType.COMPLETION
    assert designation.max_amount == Decimal("1.00")
    assert designation.accreditation_statement == "This activity is not accredited."
    assert "Not yet configured" in activity.provider_name
    assert activity.is_published


def test_ensure_activities_keeps_a_configured_activity(completed):
    services.activity_ensure(course=completed.course)
    assert list(completed.designations.values_list("credit_type", flat=True)) == [CreditType.AMA_PRA_1]


def test_reissue_adds_rows_and_leaves_the_old_certificate_unchanged(completed, learner):
    staff = UserFactory(is_staff=True)
    old = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    new = services.certificate_reissue(certificate_id=old.pk, actor=staff, reason="Name misspelt",
                                       learner_name="Jane Q. Placeholder-Smith, MD")
    old_again = Certificate.objects.get(pk=old.pk)
    assert (old_again.learner_name, old_again.code) == (old.learner_name, old.code)
    assert new.supersedes_id == old.pk and new.code != old.code
    assert CertificateRevocation.objects.get(certificate=old).revoked_by == staff
    assert new.learner_name == "Jane Q. Placeholder-Smith, MD"


def test_reissuing_a_superseded_certificate_is_refused(completed, learner):
    staff = UserFactory(is_staff=True)
    old = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    services.certificate_reissue(certificate_id=old.pk, actor=staff, reason="typo")
    with pytest.raises(ValidationError):
        services.certificate_reissue(certificate_id=old.pk, actor=staff, reason="again")


def test_a_name_the_certificate_cannot_print_is_refused_by_reissue_and_correction_writing_nothing(completed, learner):
    staff = UserFactory(is_staff=True)
    old = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    with pytest.raises(ValidationError) as reissue:
        services.certificate_reissue(certificate_id=old.pk, actor=staff, reason="Name", learner_name="김민수")
    with pytest.raises(ValidationError) as correction:
        services.claim_correct(claim_id=old.claim_id, actor=staff, reason="Name", full_name="김민수")
    assert "The certificate cannot print 김 민 수." in reissue.value.messages[0]
    assert "learner_name" in reissue.value.message_dict and "full_name" in correction.value.message_dict
    assert not CertificateRevocation.objects.exists()
    assert (Claim.objects.count(), Certificate.objects.count()) == (1, 1)


def test_an_activity_whose_certificate_would_print_blanks_cannot_be_published(completed):
    from credits.models import Activity

    completed.provider_name = "Provider 株式会社"
    completed.save(update_fields=["provider_name"])
    type(completed.course).objects.filter(pk=completed.course_id).update(title="Kratom für Kliniker")
    Activity.objects.filter(pk=completed.pk).update(is_published=False)
    with pytest.raises(services.PublishRefused) as refused:
        services.activity_publish(activity_id=completed.pk, actor=UserFactory(is_staff=True))
    assert refused.value.problems == ["The provider's name has characters the certificate cannot print: 株 式 会 社."]
    assert not Activity.objects.get(pk=completed.pk).is_published


@pytest.mark.parametrize(("name", "missing"), [
    ("Łucja Żółć-Ødegaard", []), ("Σωκράτης Παπαδόπουλος", []), ("Nguyễn Thị Minh Khai", []),
    ("محمد علي", []), ("דוד כהן", []), ("王小明", ["王", "小", "明"]), ("Tanaka 田中 田中", ["田", "中"]),
])
def test_unprintable_names_the_characters_the_certificate_font_lacks(name, missing):
    from credits.pdf import unprintable

    assert unprintable(name) == missing


@pytest.mark.parametrize("victim", ["designation", "objective", "course", "learner"])
def test_deleting_what_a_credit_record_rests_on_is_refused(completed, learner, victim):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    targets = {
        "designation": completed.designations.all(),
        "objective": Objective.objects.filter(course=completed.course),
        "course": Course.objects.filter(pk=completed.course_id),
        "learner": type(learner).objects.filter(pk=learner.pk),
    }
    with pytest.raises(ProtectedError):
        targets[victim].delete()
    assert Claim.objects.count() == 1
    assert Evaluation.objects.count() == 1


def test_verify_audit_log_passes_on_an_intact_chain(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    assert services.audit_verify().ok
    call_command("verify_audit_log", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_verify_audit_log_finds_an_edited_row(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    edited = AuditLog.objects.get(action="claim.created")
    AuditLog.objects.filter(pk=edited.pk).update(data={**edited.data, "hours": "2.00"})
    with pytest.raises(CommandError, match=f"entry #{edited.seq} was changed"):
        call_command("verify_audit_log")


def test_verify_audit_log_finds_a_removed_row(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    removed = AuditLog.objects.get(action="claim.created")
    AuditLog.objects.filter(pk=removed.pk).delete()
    verdict = services.audit_verify()
    assert verdict.first_bad_seq == removed.seq + 1


def test_verify_audit_log_finds_a_truncated_tail(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    AuditLog.objects.filter(action="certificate.issued").delete()
    assert "entries were removed" in services.audit_verify().problem


def test_claim_reports_are_recorded_once(completed, learner):
    certificate = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    ids = [certificate.claim_id]
    assert services.claim_reports_record(claim_ids=ids, destination="pars") == 1
    assert services.claim_reports_record(claim_ids=ids, destination="pars") == 0


def test_claim_correction_supersedes_without_changing_the_original(completed, learner):
    staff = UserFactory(is_staff=True)
    first = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    corrected = services.claim_correct(claim_id=first.claim_id, actor=staff, reason="Hours mistyped",
                                       hours=Decimal("1.25"))
    original = Claim.objects.get(pk=first.claim_id)
    assert original.hours == Decimal("1.50")
    assert corrected.claim.supersedes_id == original.pk
    assert corrected.amount == Decimal("1.25")
    assert CertificateRevocation.objects.get(certificate=first).revoked_by == staff
    assert services.audit_verify().ok


def test_claim_correction_over_the_maximum_is_refused(completed, learner):
    first = services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    with pytest.raises(ValidationError):
        services.claim_correct(claim_id=first.claim_id, actor=learner, reason="x", hours=Decimal("9"))
    assert Claim.objects.count() == 1
