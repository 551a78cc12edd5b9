"""Provider exports: fields, ordering, the CPE Monitor window, the command, and flat memory."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from credits import exports, services
from credits.models import Claim, CreditType
from curriculum.models import Objective
from quizzes.models import Attempt, Quiz, Response
from tests.credits.bench_export import peak_kib, rows_insert
from tests.credits.factories import acpe_designation, claim_input, evaluation_submit, everything_complete
from tests.factories import UserFactory
from tests.quizzes.factories import ItemVersionFactory

pytestmark = pytest.mark.django_db


def _pharmacy_claim(activity, learner, **fields):
    everything_complete(learner, activity)
    data = claim_input(credit_type=CreditType.ACPE, nabp_eprofile_id="1234567", birth_month=7, birth_day=4)
    certificate = services.claim_create(learner=learner, activity_id=activity.pk, data=data)
    Claim.objects.filter(pk=certificate.claim_id).update(**fields)  # back-date for the test
    return certificate.claim_id


def test_cpe_monitor_pending_is_oldest_first_with_days_left(activity):
    acpe_designation(activity)
    today = timezone.localdate()
    newer = _pharmacy_claim(activity, UserFactory(), completed_on=today - dt.timedelta(days=5))
    older = _pharmacy_claim(activity, UserFactory(), completed_on=today - dt.timedelta(days=50))
    rows = list(exports.cpe_monitor_pending(today=today).rows)
    assert [(r[6], r[7]) for r in rows] == [(older, 10), (newer, 55)]
    assert rows[0][:3] == ("1234567", "0704", "0000-0000-26-001-H01-P")


def test_reported_claims_leave_the_cpe_monitor_backlog(activity):
    acpe_designation(activity)
    claim_id = _pharmacy_claim(activity, UserFactory())
    services.claim_reports_record(claim_ids=[claim_id], destination="cpe_monitor", reference="batch-1")
    assert list(exports.cpe_monitor_pending(today=timezone.localdate()).rows) == []


def test_pars_rows_carry_the_learner_completion_fields(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk,
                          data=claim_input(birth_month=1, birth_day=31, licence_state="OH", licence_number="35.1"))
    report = exports.pars(date_from=dt.date.min, date_to=dt.date.max)
    (row,) = list(report.rows)
    record = dict(zip(report.header, row, strict=True))
    assert record["first_name"] == "Jane" and record["last_name"] == "Placeholder"
    assert (record["dob_month"], record["dob_day"], record["npi"]) == (1, 31, "1234567893")
    assert record["cme_credits_earned"] == "1.50"


def test_evaluation_report_aggregates_per_objective(activity):
    for _ in range(3):
        evaluation_submit(UserFactory(), activity)
    summary = exports.evaluation_summary_get(activity=activity)
    assert summary.respondents == 3
    assert [(r.n, r.mean, r.agree_percent) for r in summary.objectives] == [(3, 4.0, 100), (3, 4.0, 100)]


def test_csv_neutralises_formula_cells(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(full_name="=HYPERLINK(1)"))
    text = "".join(exports.csv_lines(exports.completions(date_from=dt.date.min, date_to=dt.date.max)))
    assert list(csv.reader(io.StringIO(text)))[1][7] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(
    ("name", "marked"),
    # People read the evaluations and outcomes in a spreadsheet; PARS and CPE Monitor uploads, and the
    # completions a system imports, are parsed by programs that may take a mark for part of a column name.
    [("evaluations", True), ("outcomes", True), ("completions", False), ("pars", False), ("cpe-monitor", False)],
)
def test_only_the_reports_for_people_start_with_a_byte_order_mark(completed, learner, name, marked):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(full_name="Zoë Ångström"))
    report = exports.report_build(name, date_from=dt.date.min, date_to=dt.date.max, activity=completed,
                                  today=timezone.localdate())
    text = "".join(exports.csv_lines(report))
    assert text.startswith("\ufeff") is marked
    assert next(csv.reader(io.StringIO(text.removeprefix("\ufeff")))) == list(report.header)


def test_export_command_writes_the_same_csv(completed, learner, tmp_path):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input())
    target = tmp_path / "completions.csv"
    call_command("export_credit_report", "completions", "--output", str(target))
    expected = "".join(exports.csv_lines(exports.completions(date_from=dt.date.min,
                                                             date_to=timezone.localdate())))
    assert target.read_bytes().decode("utf-8") == expected
    assert "Jane Q. Placeholder, MD" in expected


def test_export_memory_stays_flat_as_rows_grow():
    """Peak memory for 12,000 rows is about that for 4,000: rows are streamed in chunks."""
    rows_insert(4000)
    rows_small, peak_small, _ = peak_kib()
    rows_insert(8000)
    rows_large, peak_large, _ = peak_kib()
    assert (rows_small, rows_large) == (4000, 12000)
    assert peak_large < peak_small * 1.5


def test_hours_in_exports_are_exact_decimals(completed, learner):
    services.claim_create(learner=learner, activity_id=completed.pk, data=claim_input(hours=Decimal("0.25")))
    (row,) = list(exports.completions(date_from=dt.date.min, date_to=dt.date.max).rows)
    assert row[5] == "0.25"


def _answer(learner, quiz, version, *, correct: bool) -> None:
    now = timezone.now()
    attempt = Attempt.objects.create(
        learner=learner, quiz=quiz, number=1, seed=1, layout=[], started_at=now, submitted_at=now,
        correct_count=int(correct), question_count=1, score=Decimal(100 * int(correct)), passed=correct,
    )
    Response.objects.create(attempt=attempt, item_version=version, position=1, is_correct=correct)


def test_outcomes_compare_pre_and_post_for_matched_learners_only(activity):
    objective = Objective.objects.filter(course=activity.course).order_by("lesson__position").first()
    version = ItemVersionFactory(item__course=activity.course, lesson=objective.lesson, objective=objective)
    pretest = Quiz.objects.create(course=activity.course, kind=Quiz.Kind.PRETEST, title="Pre-test")
    posttest = Quiz.objects.get(course=activity.course, kind=Quiz.Kind.POSTTEST)
    matched, post_only = UserFactory(), UserFactory()
    _answer(matched, pretest, version, correct=False)
    _answer(matched, posttest, version, correct=True)
    _answer(post_only, posttest, version, correct=False)

    first, second = exports.outcomes_get(activity=activity)

    assert (first.objective, first.learners, first.pre_percent, first.post_percent) == (objective, 1, 0, 100)
    assert (second.learners, second.pre_percent) == (0, None)
