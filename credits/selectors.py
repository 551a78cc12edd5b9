"""Reads for the credit pages, each with a fixed query count.

`completion_get` also answers "has this learner passed the course's
post-test?": quizzes/selectors.py has no such read, so it is written here
against the quizzes models (read-only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, FilteredRelation, Max, Min, Prefetch, Q
from django.utils import timezone

from credits import pdf, rules
from credits.models import (
    ACCREDITED_TYPES,
    Activity,
    Certificate,
    CertificatePdf,
    CertificateRevocation,
    Claim,
    CreditDesignation,
    CreditType,
    Evaluation,
)
from curriculum import rows as db_rows
from curriculum.models import Lesson, Objective
from quizzes.models import Quiz


def activity_get(*, course_slug: str, include_unpublished: bool = False) -> Activity:
    """The activity of a published course, with its course and offered designations.

    Two queries. Raises Activity.DoesNotExist (also when unpublished, unless asked).
    """
    qs = Activity.objects.all() if include_unpublished else Activity.objects.published()
    return (
        qs.select_related("course")
        .prefetch_related(
            Prefetch(
                "designations",
                queryset=CreditDesignation.objects.filter(is_offered=True).order_by("credit_type"),
                to_attr="offered",
            )
        )
        .get(course__slug=course_slug, course__is_published=True)
    )


def activity_list_for_reports() -> list[Activity]:
    """Every activity, published or not, with its course, by title. One query."""
    return list(Activity.objects.select_related("course").order_by("course__title"))


def activity_facts(*, activity: Activity) -> rules.ActivityFacts:
    """The publish check's input. No query if `activity.offered` is prefetched, else one."""
    offered = getattr(activity, "offered", None)
    if offered is None:
        offered = list(activity.designations.filter(is_offered=True).order_by("credit_type"))
    course = activity.course
    return rules.ActivityFacts(
        title=course.title,
        faculty=list(course.faculty or []),
        disclosure_mitigation=course.disclosure_mitigation,
        commercial_support=course.commercial_support,
        accreditation_notice=course.accreditation_notice,
        hardware_software=course.hardware_software,
        privacy=course.privacy,
        release_date=course.release_date,
        review_date=course.review_date,
        expiry_date=course.expiry_date,
        provider_name=activity.provider_name,
        provider_address=activity.provider_address,
        designations=tuple(
            rules.DesignationFacts(
                credit_type=d.credit_type,
                label=d.get_credit_type_display(),
                is_accredited=d.credit_type in ACCREDITED_TYPES,
                max_amount=d.max_amount,
                increment=d.increment,
                designation_statement=d.designation_statement,
                accreditation_statement=d.accreditation_statement,
                uan=d.uan,
            )
            for d in offered
        ),
        unprintable=_unprintable_texts(activity, course, offered),
    )


def _unprintable_texts(activity: Activity, course, offered) -> dict[str, list[str]]:
    """The texts a certificate prints from the activity, each with the characters the font lacks."""
    printed = {
        "The course title": course.title,
        "The provider's name": activity.provider_name,
        "The provider's address": activity.provider_address,
        "The statement that the activity is not accredited": course.accreditation_notice,
    }
    for d in offered:
        label = d.get_credit_type_display()
        printed[f"{label}: the credit designation statement"] = d.designation_statement
        printed[f"{label}: the accreditation statement"] = d.accreditation_statement
    return {what: missing for what, text in printed.items() if (missing := pdf.unprintable(text or ""))}


# --- completion ----------------------------------------------------------------------


@dataclass
class Rule:
    key: str
    label: str
    met: bool
    met_at: dt.datetime | None = None


@dataclass
class Completion:
    rules: list[Rule] = field(default_factory=list)
    evaluation_submitted: bool = False

    @property
    def complete(self) -> bool:
        return all(rule.met for rule in self.rules)

    @property
    def missing(self) -> list[str]:
        return [rule.label for rule in self.rules if not rule.met]

    @property
    def completed_on(self) -> dt.date | None:
        """The day the last required rule was met (today if no rule applies)."""
        if not self.complete:
            return None
        times = [rule.met_at for rule in self.rules if rule.met_at]
        return timezone.localdate(max(times)) if times else timezone.localdate()


def completion_get(*, activity: Activity, learner) -> Completion:
    """Which of the activity's completion rules the learner has met, and when.

    Three queries whatever the number of lessons or attempts (lessons,
    post-test, evaluation), run whichever rules apply so the count is fixed.
    """
    course_id = activity.course_id
    # The learner is in each join's ON clause (FilteredRelation), so only their rows are joined,
    # by the (learner, lesson) and (learner, quiz, number) unique indexes. As an aggregate
    # filter instead, every learner's progress and post-test attempts were joined and then
    # filtered: 0.5-1 s a call at 100,000 learners, on the evaluation, claim and activity pages
    # (tests/test_scale.py holds the rows read constant as other learners are added).
    mine_done = FilteredRelation("progress", condition=Q(progress__learner=learner,
                                                          progress__completed_at__isnull=False))
    lessons = Lesson.objects.published().filter(course_id=course_id).annotate(mine=mine_done).aggregate(
        total=Count("pk", distinct=True),
        done=Count("mine", distinct=True),
        last=Max("mine__completed_at"),
    )
    posttest = (
        Quiz.objects.filter(course_id=course_id, kind=Quiz.Kind.POSTTEST, lesson__isnull=True)
        .annotate(mine=FilteredRelation("attempts", condition=Q(attempts__learner=learner, attempts__passed=True)))
        .annotate(first_pass=Min("mine__submitted_at"))
        .values("pass_mark", "first_pass")
        .order_by("pk")
        .first()
    )
    evaluated_at = (
        Evaluation.objects.filter(activity=activity, learner=learner).values_list("submitted_at", flat=True).first()
    )
    result = Completion(evaluation_submitted=evaluated_at is not None)
    if activity.requires_lessons:
        all_done = lessons["total"] > 0 and lessons["done"] == lessons["total"]
        result.rules.append(
            Rule(
                "lessons",
                f"Complete every lesson ({lessons['done']} of {lessons['total']} done).",
                all_done,
                lessons["last"] if all_done else None,
            )
        )
    if activity.requires_posttest:
        if posttest is None:
            result.rules.append(Rule("posttest", "Pass the post-test (none is set up yet).", False))
        else:
            passed_at = posttest["first_pass"]
            result.rules.append(
                Rule("posttest", f"Pass the post-test ({posttest['pass_mark']}% or more).", passed_at is not None,
                     passed_at)
            )
    if activity.requires_evaluation:
        result.rules.append(Rule("evaluation", "Submit the activity evaluation.", evaluated_at is not None,
                                 evaluated_at))
    return result


def evaluation_objectives(*, activity: Activity) -> list[Objective]:
    """The course's active objectives in teaching order, for the evaluation form. One query."""
    return list(
        Objective.objects.filter(course_id=activity.course_id, is_active=True).order_by("lesson__position", "position")
    )


def claim_current_get(*, activity: Activity, learner) -> Claim | None:
    """The learner's claim on the activity (the original row), or None. One query."""
    return Claim.objects.filter(activity=activity, learner=learner, supersedes__isnull=True).first()


# --- certificates and transcripts ----------------------------------------------------

_CERTIFICATE_RELATED = ("revocation", "superseded_by")


def certificate_for_learner_get(*, pk: int, learner) -> Certificate:
    """One of the learner's own certificates with its status. One query.

    Raises Certificate.DoesNotExist for anyone else's, so the view answers 404
    and a certificate's existence does not leak.
    """
    return Certificate.objects.select_related("claim", *_CERTIFICATE_RELATED).get(pk=pk, claim__learner=learner)


# certificate_pdf_get's query, written out: the ORM spent about 1 ms of Python
# building a four-way select_related around a one-row lookup, and the stored PDF
# was a second query. Table and column names come from the models, at import;
# values are parameters.
_CERTIFICATE_PDF_SQL = """
    SELECT {certificate}, {revocation}, {superseding}, pdf.source_key, pdf.body, pdf.digest
      FROM {certificate_table} certificate
      JOIN {claim_table} claim ON claim.id = certificate.claim_id
      LEFT JOIN {revocation_table} revocation ON revocation.certificate_id = certificate.id
      LEFT JOIN {certificate_table} superseding ON superseding.supersedes_id = certificate.id
      LEFT JOIN {pdf_table} pdf ON pdf.certificate_id = certificate.id
     WHERE certificate.id = %s AND claim.learner_id = %s
""".format(  # noqa: S608  # nosec B608
    certificate=db_rows.columns(Certificate, "certificate"),
    revocation=db_rows.columns(CertificateRevocation, "revocation"),
    superseding=db_rows.columns(Certificate, "superseding"),
    certificate_table=Certificate._meta.db_table,
    claim_table=Claim._meta.db_table,
    revocation_table=CertificateRevocation._meta.db_table,
    pdf_table=CertificatePdf._meta.db_table,
)


@dataclass(frozen=True, slots=True)
class StoredPdf:
    """A certificate's PDF as stored: what it was drawn from (`pdf.source_key`), its bytes and sha256."""

    source_key: str
    body: bytes
    digest: str


def certificate_pdf_get(*, pk: int, learner) -> tuple[Certificate, StoredPdf | None]:
    """One of the learner's own certificates with its status (as `certificate_for_learner_get`
    gives it: `revocation` and `superseded_by` read, each possibly None) and its stored PDF,
    None if never drawn. One query.

    Raises Certificate.DoesNotExist for anyone else's, or an id no row can have.
    """
    if learner.pk is None or not db_rows.pk_possible(Certificate, pk):
        raise Certificate.DoesNotExist("No such certificate.")
    readers = [db_rows.reader(Certificate), db_rows.reader(CertificateRevocation), db_rows.reader(Certificate)]
    *parts, (source_key, body, digest) = db_rows.one(
        Certificate, _CERTIFICATE_PDF_SQL, [pk, learner.pk], [*readers, db_rows.Values(3)]
    )
    certificate = readers[0](parts[0])
    # The reverse one-to-ones, cached as select_related caches them, None included.
    for name, reader, part in (("revocation", readers[1], parts[1]), ("superseded_by", readers[2], parts[2])):
        related = reader(part) if part[0] is not None else None
        Certificate._meta.get_field(name).set_cached_value(certificate, related)
    return certificate, (None if source_key is None else StoredPdf(source_key, bytes(body), digest))


def certificate_by_code_get(*, code: str) -> Certificate:
    """A certificate by its verification code, with revocation and supersession. One query.

    Raises Certificate.DoesNotExist.
    """
    return Certificate.objects.select_related(*_CERTIFICATE_RELATED).get(code=code)


def transcript_list(*, learner) -> list[Certificate]:
    """All the learner's certificates, newest first, with their status. One query."""
    return list(
        Certificate.objects.filter(claim__learner=learner)
        .select_related(*_CERTIFICATE_RELATED)
        .order_by("-completed_on", "-issued_at")
    )


def credit_type_label(value: str) -> str:
    return CreditType(value).label
