"""Writes to the credit tables: activities, evaluations, claims, certificates,
reporting marks and the audit log.

These functions are the only write path for their tables. Claims,
certificates, revocations and evaluations are inserted, never updated; every
write appends an `AuditLog` entry in the same transaction, and credit and
certificate facts are written to the outbox (`LearnerEvent`) there too.

Lock order, to avoid deadlocks: the learner's user row or the activity row
first, the audit head (`AuditHead`, pk 1) always last.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import identifiers
from accounts.models import User
from credits import pdf, rules, selectors
from credits.models import (
    DEFAULT_INCREMENTS,
    Activity,
    AuditHead,
    AuditLog,
    Certificate,
    CertificateRevocation,
    Claim,
    ClaimReport,
    CreditDesignation,
    CreditType,
    Evaluation,
    EvaluationAnswer,
)
from curriculum.models import Course
from curriculum.services import learner_event_record


class PublishRefused(Exception):
    """The publish check found problems; nothing was changed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class ClaimRefused(Exception):
    """The claim is not allowed now (already claimed, expired, not complete…); nothing was written."""

    def __init__(self, reason: str, *, existing: Claim | None = None):
        self.reason = reason
        self.existing = existing
        super().__init__(reason)


# --- audit log ------------------------------------------------------------------------


def ref_of(obj) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def audit_append(*, actor, action: str, obj=None, object_ref: str = "", data: dict | None = None) -> AuditLog:
    """Append one entry to the hash chain. Needs a transaction (the caller's).

    Locks the chain head until commit, so appends form one line: each entry's
    prev_hash is the hash of the entry committed before it. `data` must be
    JSON-native (strings, ints, bools, lists, dicts): it is hashed as stored.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append must run inside the change's transaction")
    head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1, defaults={"seq": 0, "hash": ""})
    entry = AuditLog(
        seq=head.seq + 1,
        occurred_at=timezone.now(),
        actor_id=getattr(actor, "pk", None),
        action=action,
        object_ref=object_ref or ref_of(obj),
        data=data or {},
        prev_hash=head.hash,
    )
    entry.hash = rules.audit_hash(
        seq=entry.seq, occurred_at=entry.occurred_at, actor_id=entry.actor_id, action=entry.action,
        object_ref=entry.object_ref, data=entry.data, prev_hash=entry.prev_hash,
    )
    entry.save()
    head.seq, head.hash = entry.seq, entry.hash
    head.save(update_fields=["seq", "hash"])
    return entry


@dataclass
class AuditVerdict:
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and not self.problem


def audit_verify() -> AuditVerdict:
    """Recompute the chain in order; report the first entry whose hash or link does not match.

    Streams the log (constant memory); one query plus one for the head.
    """
    prev_hash, expected_seq, checked = "", 1, 0
    for entry in AuditLog.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return AuditVerdict(checked, entry.seq, f"entry #{expected_seq} is missing (found #{entry.seq})")
        if entry.prev_hash != prev_hash:
            return AuditVerdict(checked, entry.seq, f"entry #{entry.seq} does not link to the entry before it")
        recomputed = rules.audit_hash(
            seq=entry.seq, occurred_at=entry.occurred_at, actor_id=entry.actor_id, action=entry.action,
            object_ref=entry.object_ref, data=entry.data, prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return AuditVerdict(checked, entry.seq, f"entry #{entry.seq} was changed after it was written")
        prev_hash, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
    head = AuditHead.objects.filter(pk=1).first()
    if checked and (head is None or head.seq != checked or head.hash != prev_hash):
        return AuditVerdict(checked, None, f"the chain head does not match entry #{checked}: entries were removed")
    return AuditVerdict(checked)


# --- activities -----------------------------------------------------------------------

PLACEHOLDER_PROVIDER = "Not yet configured: no accredited provider offers credit for this activity"
PLACEHOLDER_ADDRESS = "Not yet configured: the provider's address is set in the admin"


@transaction.atomic
def activity_ensure(*, course: Course, actor=None) -> tuple[Activity, bool]:
    """The course's activity, created if missing with honest 'not accredited' placeholders.

    A new activity offers a certificate of completion only, for the course's
    estimated time, and is published if its publish check is clean. An
    existing activity is returned untouched (a provider's settings win).
    Returns (activity, created).
    """
    activity, created = Activity.objects.get_or_create(
        course=course, defaults={"provider_name": PLACEHOLDER_PROVIDER, "provider_address": PLACEHOLDER_ADDRESS}
    )
    if not created:
        return activity, False
    increment = DEFAULT_INCREMENTS[CreditType.COMPLETION]
    hours = (Decimal(course.estimated_minutes) / 60 // increment) * increment or increment
    CreditDesignation.objects.create(
        activity=activity,
        credit_type=CreditType.COMPLETION,
        max_amount=hours,
        increment=increment,
        designation_statement=f"Certificate of completion for up to {hours:.2f} hours of participation.",
        accreditation_statement=course.accreditation_notice,
    )
    audit_append(actor=actor, action="activity.created", obj=activity, data={"course": course.slug})
    if not rules.publish_check(selectors.activity_facts(activity=activity), today=timezone.localdate()):
        activity = activity_publish(activity_id=activity.pk, actor=actor)
    return activity, True


def activities_ensure(*, actor=None) -> list[tuple[Activity, bool]]:
    """activity_ensure for every course; what `manage.py ensure_activities` runs after load_curriculum."""
    return [activity_ensure(course=course, actor=actor) for course in Course.objects.order_by("slug")]


@transaction.atomic
def activity_publish(*, activity_id: int, actor) -> Activity:
    """Publish the activity if its publish check is clean.

    Locks the activity row. Raises PublishRefused with every problem, changing nothing.
    """
    activity = Activity.objects.select_for_update().select_related("course").get(pk=activity_id)
    problems = rules.publish_check(selectors.activity_facts(activity=activity), today=timezone.localdate())
    if problems:
        raise PublishRefused(problems)
    if activity.is_published:
        return activity
    activity.is_published, activity.published_at = True, timezone.now()
    activity.save(update_fields=["is_published", "published_at", "updated_at"])
    audit_append(actor=actor, action="activity.published", obj=activity)
    return activity


@transaction.atomic
def activity_unpublish(*, activity_id: int, actor, reason: str) -> Activity:
    """Stop offering credit (claims already made stay). Locks the activity row."""
    activity = Activity.objects.select_for_update().get(pk=activity_id)
    if activity.is_published:
        activity.is_published = False
        activity.save(update_fields=["is_published", "updated_at"])
        audit_append(actor=actor, action="activity.unpublished", obj=activity, data={"reason": reason})
    return activity


def activity_recheck(*, activity_id: int, actor) -> list[str]:
    """After an admin edit: a published activity whose check now fails is unpublished. Returns the problems."""
    activity = Activity.objects.select_related("course").get(pk=activity_id)
    problems = rules.publish_check(selectors.activity_facts(activity=activity), today=timezone.localdate())
    if problems and activity.is_published:
        activity_unpublish(activity_id=activity_id, actor=actor, reason="publish check failed after an edit")
    return problems


# --- evaluation -----------------------------------------------------------------------


@transaction.atomic
def evaluation_submit(
    *, learner, activity: Activity, ratings: dict[int, int], practice_change: str,
    practice_change_detail: str = "", perceived_bias: bool, bias_detail: str = "", comments: str = "",
) -> Evaluation:
    """Store the learner's one evaluation of the activity; a repeat returns the first.

    `ratings` maps each active objective's id to 1-5. Raises ValidationError
    (writing nothing) for a missing or foreign objective or a rating out of range.
    """
    existing = Evaluation.objects.filter(learner=learner, activity=activity).first()
    if existing is not None:
        return existing  # double submit: the first one stands
    objective_ids = {o.pk for o in selectors.evaluation_objectives(activity=activity)}
    if set(ratings) != objective_ids:
        raise ValidationError("Rate every learning objective of this activity.")
    if any(not 1 <= int(r) <= 5 for r in ratings.values()):
        raise ValidationError("Ratings run from 1 to 5.")
    if practice_change not in Evaluation.PracticeChange.values:
        raise ValidationError("Choose what this activity will change in your practice.")
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                learner=learner, activity=activity, practice_change=practice_change,
                practice_change_detail=practice_change_detail, perceived_bias=perceived_bias,
                bias_detail=bias_detail, comments=comments, submitted_at=timezone.now(),
            )
    except IntegrityError:  # a concurrent submit won the unique constraint
        return Evaluation.objects.get(learner=learner, activity=activity)
    EvaluationAnswer.objects.bulk_create(
        EvaluationAnswer(evaluation=evaluation, objective_id=pk, rating=int(r)) for pk, r in ratings.items()
    )
    audit_append(actor=learner, action="evaluation.submitted", obj=evaluation, data={"activity": activity.pk})
    return evaluation


# --- claims and certificates ----------------------------------------------------------


@dataclass
class ClaimInput:
    """What the learner enters on the claim form (identifiers default from the profile)."""

    credit_type: str
    hours: Decimal
    attested: bool
    full_name: str
    given_name: str = ""
    family_name: str = ""
    npi: str = ""
    nabp_eprofile_id: str = ""
    birth_month: int | None = None
    birth_day: int | None = None
    licence_number: str = ""
    licence_state: str = ""


def certificate_name_problem(name: str) -> str:
    """Why `name` cannot go on a certificate, or "": characters the certificate font lacks would print blank."""
    missing = pdf.unprintable(name)
    if not missing:
        return ""
    return (f"The certificate cannot print {' '.join(missing)}. Enter the name in Latin, Greek, Cyrillic, "
            "Arabic or Hebrew letters, as on your licence.")


def claim_input_problems(data: ClaimInput, *, activity: Activity, designation: CreditDesignation) -> dict:
    """Field errors for what the credit type's reporting needs ({} if none). No query."""
    errors: dict[str, str] = {}
    if not data.attested:
        errors["attested"] = "Confirm that the time you enter is the time you actually spent."
    if not data.full_name.strip():
        errors["full_name"] = "Enter your name as it should appear on the certificate."
    elif problem := certificate_name_problem(data.full_name):
        errors["full_name"] = problem
    hours_problem = rules.hours_problem(data.hours, maximum=designation.max_amount, increment=designation.increment)
    if hours_problem:
        errors["hours"] = hours_problem
    if data.npi and not identifiers.npi_is_valid(data.npi):
        errors["npi"] = identifiers.NPI_INVALID
    credit_type = designation.credit_type
    if credit_type == CreditType.AMA_PRA_1 and activity.reports_to_pars:
        # PARS matches a physician on name, month/day of birth and NPI or licence.
        if not data.given_name.strip() or not data.family_name.strip():
            errors["given_name"] = "PARS needs your first and last names separately."
        if not data.npi and not (data.licence_number and data.licence_state):
            errors["npi"] = "PARS needs your NPI (or a licence number and state)."
    needs_birthday = credit_type == CreditType.ACPE or (credit_type == CreditType.AMA_PRA_1 and activity.reports_to_pars)
    if credit_type == CreditType.ACPE and not identifiers.nabp_eprofile_is_valid(data.nabp_eprofile_id):
        errors["nabp_eprofile_id"] = "CPE Monitor needs your NABP e-Profile ID: up to 7 digits, e.g. 1234567."
    if needs_birthday and not rules.birth_month_day_is_valid(data.birth_month, data.birth_day):
        errors["birth_day"] = "Enter the month and day of your birth (the accreditor matches on them)."
    if activity.reports_to_ce_broker:
        if not data.licence_number.strip():
            errors["licence_number"] = "CE Broker needs your licence number."
        if not identifiers.LICENCE_STATE_PATTERN.fullmatch(data.licence_state or ""):
            errors["licence_state"] = "CE Broker needs your licence state as two capital letters, e.g. OH."
    elif data.licence_state and not identifiers.LICENCE_STATE_PATTERN.fullmatch(data.licence_state):
        errors["licence_state"] = "Enter the state as two capital letters, e.g. OH."
    return errors


@transaction.atomic
def claim_create(*, learner, activity_id: int, data: ClaimInput, today: dt.date | None = None) -> Certificate:
    """Claim credit exactly once and issue its certificate; returns the certificate.

    Locks the learner's user row until commit, so two concurrent claims by
    one learner run one after the other and the second sees the first (the
    partial unique constraint `credits_claim_once_per_activity` backs this).
    Raises ClaimRefused (already claimed, expired, unpublished, incomplete,
    type not offered) or ValidationError with field errors; writes nothing then.
    Records the claim and certificate in the audit log and the outbox.
    """
    today = today or timezone.localdate()
    User.objects.select_for_update().only("pk").get(pk=learner.pk)
    existing = Claim.objects.filter(learner=learner, activity_id=activity_id, supersedes__isnull=True).first()
    if existing is not None:
        raise ClaimRefused("You have already claimed credit for this activity.", existing=existing)
    activity = Activity.objects.select_related("course").prefetch_related("designations").get(pk=activity_id)
    activity.offered = [d for d in activity.designations.all() if d.is_offered]
    if not activity.is_published or not activity.course.is_published:
        raise ClaimRefused("This activity does not offer credit at present.")
    if today > activity.course.expiry_date:
        raise ClaimRefused(f"This activity expired on {activity.course.expiry_date:%d %B %Y}; no new credit is awarded.")
    if rules.publish_check(selectors.activity_facts(activity=activity), today=today):
        raise ClaimRefused("This activity's record is incomplete, so it cannot award credit at present.")
    designation = next((d for d in activity.offered if d.credit_type == data.credit_type), None)
    if designation is None:
        raise ValidationError({"credit_type": "This activity does not offer that type of credit."})
    completion = selectors.completion_get(activity=activity, learner=learner)
    if not completion.complete:
        raise ClaimRefused("Credit can be claimed once you have: " + " ".join(completion.missing))
    errors = claim_input_problems(data, activity=activity, designation=designation)
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                learner=learner, activity=activity, designation=designation, credit_type=designation.credit_type,
                hours=Decimal(data.hours).quantize(Decimal("0.01")), uan=designation.uan if designation.credit_type == CreditType.ACPE else "",
                completed_on=completion.completed_on, full_name=data.full_name.strip(),
                given_name=data.given_name.strip(), family_name=data.family_name.strip(),
                profession=learner.profession, npi=data.npi, nabp_eprofile_id=data.nabp_eprofile_id,
                birth_month=data.birth_month, birth_day=data.birth_day,
                licence_number=data.licence_number.strip(), licence_state=data.licence_state,
                attested_at=now, created_by=learner,
            )
    except IntegrityError:  # only without the row lock (it cannot happen under it); kept as the backstop
        raise ClaimRefused("You have already claimed credit for this activity.") from None
    audit_append(actor=learner, action="claim.created", obj=claim, data=_claim_audit_data(claim))
    learner_event_record(learner=learner, verb="credit_claimed", obj=claim,
                         data={"credit_type": claim.credit_type, "hours": str(claim.hours)})
    return _certificate_issue(claim=claim, designation=designation, activity=activity, actor=learner)


def _claim_audit_data(claim: Claim) -> dict:
    return {
        "learner": claim.learner_id, "activity": claim.activity_id, "credit_type": claim.credit_type,
        "hours": str(claim.hours), "completed_on": claim.completed_on.isoformat(), "full_name": claim.full_name,
        "uan": claim.uan,
    }


def _verification_code() -> str:
    """A new certificate's verification code: `secrets.token_urlsafe(16)`, drawn again while it
    begins with "-" (one draw in 64), which a command line reads as an option
    (`revoke_certificate`); the other 63 first characters stay equally likely."""
    while True:
        code = secrets.token_urlsafe(16)
        if not code.startswith("-"):
            return code


def _certificate_issue(*, claim: Claim, designation: CreditDesignation, activity: Activity, actor,
                       supersedes: Certificate | None = None, reason: str = "", learner_name: str = "") -> Certificate:
    """Insert a certificate for the claim, snapshotting what it shows. Caller holds the transaction."""
    certificate = Certificate.objects.create(
        claim=claim,
        code=_verification_code(),
        learner_name=learner_name or claim.full_name,
        profession=User.Profession(claim.profession).label if claim.profession in User.Profession.values
        else claim.profession,
        activity_title=activity.course.title,
        completed_on=claim.completed_on,
        credit_type=claim.credit_type,
        credit_label=CreditType(claim.credit_type).label,
        amount=claim.hours,
        uan=claim.uan,
        designation_statement=designation.designation_statement,
        accreditation_statement=designation.accreditation_statement or activity.course.accreditation_notice,
        provider_name=activity.provider_name,
        provider_address=activity.provider_address,
        issued_at=timezone.now(),
        issued_by=actor,
        supersedes=supersedes,
        reason=reason,
    )
    audit_append(actor=actor, action="certificate.issued", obj=certificate, data={
        # The code's digest, not the code: the log is read by staff, the code is the learner's to share.
        "claim": claim.pk, "code_sha256": hashlib.sha256(certificate.code.encode()).hexdigest(),
        "learner_name": certificate.learner_name, "amount": str(certificate.amount),
        "supersedes": supersedes.pk if supersedes else None, "reason": reason,
    })
    learner_event_record(learner=claim.learner, verb="certificate_issued", obj=certificate)
    return certificate


@transaction.atomic
def certificate_revoke(*, certificate_id: int, actor, reason: str) -> CertificateRevocation:
    """Withdraw a certificate (the row stays; verification then says 'revoked'). Idempotent.

    Locks the certificate row. Raises ValidationError without a reason.
    """
    if not reason.strip():
        raise ValidationError("Say why the certificate is revoked.")
    certificate = Certificate.objects.select_for_update().get(pk=certificate_id)
    existing = CertificateRevocation.objects.filter(certificate=certificate).first()
    if existing is not None:
        return existing
    revocation = CertificateRevocation.objects.create(
        certificate=certificate, revoked_at=timezone.now(), revoked_by=actor, reason=reason.strip()
    )
    audit_append(actor=actor, action="certificate.revoked", obj=certificate, data={"reason": revocation.reason})
    # The outbox row commits with the revocation: webhooks and LMSs hear of it once.
    learner_event_record(learner=certificate.claim.learner, verb="certificate_revoked", obj=certificate)
    return revocation


@transaction.atomic
def certificate_reissue(*, certificate_id: int, actor, reason: str, learner_name: str = "") -> Certificate:
    """Replace a certificate (e.g. a corrected name): revoke it and issue a new one that supersedes it.

    Locks the old certificate row; reissuing one already superseded raises ValidationError.
    """
    old = Certificate.objects.select_for_update().select_related(
        "claim__designation", "claim__activity__course", "claim__learner"
    ).get(pk=certificate_id)
    if Certificate.objects.filter(supersedes=old).exists():
        raise ValidationError("This certificate has already been reissued; reissue the newest one.")
    if problem := certificate_name_problem(learner_name):
        raise ValidationError({"learner_name": problem})
    certificate_revoke(certificate_id=old.pk, actor=actor, reason=f"Reissued: {reason}")
    claim = old.claim
    return _certificate_issue(
        claim=claim, designation=claim.designation, activity=claim.activity, actor=actor,
        supersedes=old, reason=reason, learner_name=learner_name.strip() or old.learner_name,
    )


@transaction.atomic
def claim_correct(*, claim_id: int, actor, reason: str, hours: Decimal | None = None,
                  full_name: str = "") -> Certificate:
    """Correct a claim's hours or name: a new claim supersedes it and gets a new certificate.

    The old claim and its certificates stay as they were (the current
    certificate is revoked, naming the reason). Locks the old claim's row;
    correcting a claim that was already corrected raises ValidationError, as
    do hours over the designation's maximum or off its increments.
    """
    if not reason.strip():
        raise ValidationError("Say why the claim is corrected.")
    old = Claim.objects.select_for_update().select_related("designation", "activity__course", "learner").get(
        pk=claim_id
    )
    if Claim.objects.filter(supersedes=old).exists():
        raise ValidationError("This claim has already been corrected; correct the newest one.")
    if name_problem := certificate_name_problem(full_name):
        raise ValidationError({"full_name": name_problem})
    hours = old.hours if hours is None else Decimal(hours)
    problem = rules.hours_problem(hours, maximum=old.designation.max_amount, increment=old.designation.increment)
    if problem:
        raise ValidationError({"hours": problem})
    new = Claim.objects.create(
        learner=old.learner, activity=old.activity, designation=old.designation, credit_type=old.credit_type,
        hours=hours.quantize(Decimal("0.01")), uan=old.uan, completed_on=old.completed_on,
        full_name=full_name.strip() or old.full_name, given_name=old.given_name, family_name=old.family_name,
        profession=old.profession, npi=old.npi, nabp_eprofile_id=old.nabp_eprofile_id,
        birth_month=old.birth_month, birth_day=old.birth_day, licence_number=old.licence_number,
        licence_state=old.licence_state, attested_at=old.attested_at, supersedes=old, created_by=actor,
        reason=reason.strip(),
    )
    audit_append(actor=actor, action="claim.corrected", obj=new,
                 data={**_claim_audit_data(new), "supersedes": old.pk, "reason": new.reason})
    current = Certificate.objects.filter(claim=old, superseded_by__isnull=True).order_by("-issued_at").first()
    if current is not None:
        certificate_revoke(certificate_id=current.pk, actor=actor, reason=f"Claim corrected: {new.reason}")
    return _certificate_issue(claim=new, designation=new.designation, activity=new.activity, actor=actor,
                              reason=new.reason)


@transaction.atomic
def claim_reports_record(*, claim_ids: list[int], destination: str, actor=None, reference: str = "") -> int:
    """Mark claims as reported to an accreditor's system (once each); returns how many were new."""
    already = set(
        ClaimReport.objects.filter(claim_id__in=claim_ids, destination=destination).values_list("claim_id", flat=True)
    )
    now = timezone.now()
    new = [
        ClaimReport(claim_id=pk, destination=destination, reported_at=now, recorded_by=actor, reference=reference)
        for pk in sorted(set(claim_ids) - already)
    ]
    ClaimReport.objects.bulk_create(new)
    if new:
        audit_append(actor=actor, action="claims.reported", object_ref=f"destination:{destination}",
                     data={"claims": [r.claim_id for r in new], "reference": reference})
    return len(new)
