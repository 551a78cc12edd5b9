"""Provider reports as row generators, shared by the staff CSV views and
`manage.py export_credit_report`.

Each report is a header plus a generator of rows read with `.iterator()` in
chunks, so an export of 100,000 claims holds one chunk in memory, whether it
streams to a browser (StreamingHttpResponse) or to a file. Column names
follow the accreditors' upload fields where one exists (PARS learner
completion, CPE Monitor); providers map them onto the current template.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.db.models import Avg, Count, Exists, OuterRef, Q

from credits.models import Activity, Claim, ClaimReport, CreditType, Evaluation, EvaluationAnswer
from curriculum.models import Objective
from quizzes.models import Quiz, Response

CHUNK = 2000
BOM = "\ufeff"  # UTF-8 byte-order mark: see Report.for_spreadsheets


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    header: tuple[str, ...]
    rows: Iterator[tuple]
    # For people, opened in a spreadsheet: start with a UTF-8 byte-order mark, without which Excel
    # reads the file as the machine's legacy code page and garbles every accent and dash. Reports an
    # accreditor's upload parses (PARS, CPE Monitor) or a system imports (completions) go without.
    for_spreadsheets: bool = False


def _current_claims():
    """Claims not superseded by a correction (a correction replaces its original in reports)."""
    return Claim.objects.filter(superseded_by__isnull=True)


def completions(*, date_from: dt.date, date_to: dt.date, credit_type: str = "") -> Report:
    """Claims completed in [date_from, date_to], oldest first, optionally of one credit type."""
    qs = _current_claims().filter(completed_on__gte=date_from, completed_on__lte=date_to)
    if credit_type:
        qs = qs.filter(credit_type=credit_type)
    fields = ("pk", "completed_on", "attested_at", "activity__course__title", "credit_type", "hours", "uan",
              "full_name", "profession", "npi", "licence_state", "licence_number")
    rows = (
        (pk, done.isoformat(), attested.isoformat(), title, CreditType(ct).label, str(hours), uan, name, profession,
         npi, state, number)
        for pk, done, attested, title, ct, hours, uan, name, profession, npi, state, number in
        qs.order_by("completed_on", "pk").values_list(*fields).iterator(chunk_size=CHUNK)
    )
    header = ("claim_id", "completed_on", "attested_at", "activity", "credit_type", "hours", "uan", "learner_name",
              "profession", "npi", "licence_state", "licence_number")
    return Report("completions", "Completions", header, rows)


def pars(*, date_from: dt.date, date_to: dt.date) -> Report:
    """AMA PRA Category 1 completions with ACCME PARS learner-completion fields."""
    qs = _current_claims().filter(
        credit_type=CreditType.AMA_PRA_1, completed_on__gte=date_from, completed_on__lte=date_to
    )
    fields = ("activity__pars_activity_id", "given_name", "family_name", "birth_month", "birth_day", "npi",
              "licence_state", "licence_number", "completed_on", "hours", "pk")
    rows = (
        (activity_id, given, family, month or "", day or "", npi, state, number, done.strftime("%m/%d/%Y"),
         str(hours), pk)
        for activity_id, given, family, month, day, npi, state, number, done, hours, pk in
        qs.order_by("completed_on", "pk").values_list(*fields).iterator(chunk_size=CHUNK)
    )
    header = ("activity_id", "first_name", "last_name", "dob_month", "dob_day", "npi", "licensing_state",
              "license_id", "completion_date", "cme_credits_earned", "provider_learner_id")
    return Report("pars", "PARS learner completions", header, rows)


def cpe_monitor_pending(*, today: dt.date) -> Report:
    """ACPE claims not yet reported to CPE Monitor, oldest first, with the days left to report.

    CPE Monitor accepts a completion for 60 days (CREDITS_CPE_MONITOR_WINDOW_DAYS);
    a negative number means the window has closed.
    """
    window = settings.CREDITS_CPE_MONITOR_WINDOW_DAYS
    reported = ClaimReport.objects.filter(claim=OuterRef("pk"), destination=ClaimReport.Destination.CPE_MONITOR)
    qs = _current_claims().filter(credit_type=CreditType.ACPE).filter(~Exists(reported))
    fields = ("nabp_eprofile_id", "birth_month", "birth_day", "uan", "completed_on", "hours", "full_name", "pk")
    rows = (
        (epid, f"{month or 0:02d}{day or 0:02d}", uan, done.strftime("%m/%d/%Y"), str(hours), name, pk,
         window - (today - done).days)
        for epid, month, day, uan, done, hours, name, pk in
        qs.order_by("completed_on", "pk").values_list(*fields).iterator(chunk_size=CHUNK)
    )
    header = ("nabp_eprofile_id", "dob_mmdd", "uan", "participation_date", "contact_hours", "learner_name",
              "claim_id", "days_left")
    return Report("cpe-monitor", "CPE Monitor: not yet reported", header, rows)


# --- evaluation summary and outcomes (small: one row per objective) -------------------


@dataclass
class ObjectiveRating:
    objective: Objective
    n: int = 0
    mean: float | None = None
    agree: int = 0  # ratings of 4 or 5

    @property
    def agree_percent(self) -> int | None:
        return round(100 * self.agree / self.n) if self.n else None


@dataclass
class EvaluationSummary:
    activity: Activity
    respondents: int
    objectives: list[ObjectiveRating]
    practice_change: list[tuple[str, int]]
    perceived_bias: int


def evaluation_summary_get(*, activity: Activity) -> EvaluationSummary:
    """Aggregate evaluations of one activity. Four queries whatever the number of evaluations."""
    objectives = list(
        Objective.objects.filter(course_id=activity.course_id).order_by("lesson__position", "position")
    )
    by_objective = {o.pk: ObjectiveRating(o) for o in objectives}
    for row in (
        EvaluationAnswer.objects.filter(evaluation__activity=activity)
        .values("objective_id")
        .annotate(n=Count("pk"), mean=Avg("rating"), agree=Count("pk", filter=Q(rating__gte=4)))
    ):
        rating = by_objective.get(row["objective_id"])
        if rating:
            rating.n, rating.mean, rating.agree = row["n"], float(row["mean"]), row["agree"]
    totals = Evaluation.objects.filter(activity=activity).aggregate(
        n=Count("pk"), bias=Count("pk", filter=Q(perceived_bias=True))
    )
    changes = Counter(
        dict(
            Evaluation.objects.filter(activity=activity)
            .values_list("practice_change")
            .annotate(n=Count("pk"))
            .values_list("practice_change", "n")
        )
    )
    practice = [(label, changes.get(value, 0)) for value, label in Evaluation.PracticeChange.choices]
    return EvaluationSummary(activity, totals["n"], [by_objective[o.pk] for o in objectives if by_objective[o.pk].n
                                                     or o.is_active], practice, totals["bias"])


def evaluation_report(*, activity: Activity) -> Report:
    summary = evaluation_summary_get(activity=activity)

    def rows() -> Iterable[tuple]:
        yield ("respondents", "", summary.respondents, "", "")
        for r in summary.objectives:
            yield ("objective_met", f"{r.objective.key}: {r.objective.text}", r.n,
                   f"{r.mean:.2f}" if r.mean is not None else "", r.agree_percent if r.n else "")
        for label, n in summary.practice_change:
            yield ("practice_change", label, n, "", "")
        yield ("perceived_commercial_bias", "yes", summary.perceived_bias, "", "")
        comments = Evaluation.objects.filter(activity=activity).exclude(comments="").values_list("comments", flat=True)
        for text in comments.order_by("submitted_at").iterator(chunk_size=CHUNK):
            yield ("comment", text, "", "", "")

    return Report("evaluations", "Evaluation summary", ("section", "item", "n", "mean_rating", "agree_percent"), rows(),
                  for_spreadsheets=True)


@dataclass
class ObjectiveOutcome:
    objective: Objective
    learners: int = 0
    pre_correct: int = 0
    pre_total: int = 0
    post_correct: int = 0
    post_total: int = 0

    @staticmethod
    def _pct(c: int, t: int) -> int | None:
        return round(100 * c / t) if t else None

    @property
    def pre_percent(self) -> int | None:
        return self._pct(self.pre_correct, self.pre_total)

    @property
    def post_percent(self) -> int | None:
        return self._pct(self.post_correct, self.post_total)


def outcomes_get(*, activity: Activity) -> list[ObjectiveOutcome]:
    """Pre- vs post-test correctness per objective, matched per learner.

    Only learners with submitted pre- and post-test answers on an objective
    count for it, so a change reflects the same people before and after.
    Two queries; the grouped rows are objectives x learners x 2.
    """
    objectives = list(Objective.objects.filter(course_id=activity.course_id).order_by("lesson__position", "position"))
    cells: dict[tuple[int, int], dict[str, tuple[int, int]]] = defaultdict(dict)
    rows = (
        Response.objects.filter(
            attempt__quiz__course_id=activity.course_id,
            attempt__quiz__kind__in=[Quiz.Kind.PRETEST, Quiz.Kind.POSTTEST],
            attempt__submitted_at__isnull=False,
        )
        .values_list("item_version__objective_id", "attempt__learner_id", "attempt__quiz__kind")
        .annotate(total=Count("pk"), correct=Count("pk", filter=Q(is_correct=True)))
        .order_by()
    )
    for objective_id, learner_id, kind, total, correct in rows.iterator(chunk_size=CHUNK):
        cells[(objective_id, learner_id)][kind] = (correct, total)
    outcomes = {o.pk: ObjectiveOutcome(o) for o in objectives}
    for (objective_id, _learner), kinds in cells.items():
        outcome = outcomes.get(objective_id)
        if outcome is None or len(kinds) < 2:
            continue
        outcome.learners += 1
        outcome.pre_correct += kinds[Quiz.Kind.PRETEST][0]
        outcome.pre_total += kinds[Quiz.Kind.PRETEST][1]
        outcome.post_correct += kinds[Quiz.Kind.POSTTEST][0]
        outcome.post_total += kinds[Quiz.Kind.POSTTEST][1]
    return [outcomes[o.pk] for o in objectives]


def outcomes_report(*, activity: Activity) -> Report:
    rows = (
        (o.objective.key, o.objective.text, o.learners, o.pre_percent if o.pre_percent is not None else "",
         o.post_percent if o.post_percent is not None else "")
        for o in outcomes_get(activity=activity)
    )
    return Report("outcomes", "Outcomes", ("objective", "text", "matched_learners", "pre_percent_correct",
                                           "post_percent_correct"), rows, for_spreadsheets=True)


# --- CSV writing ------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(report: Report, *, progress: Callable[[int, None], None] | None = None) -> Iterator[str]:
    """The report as CSV text, one line at a time. Cells starting with =, +, - or @ are
    prefixed with a quote so a spreadsheet does not run learner-entered text as a formula; a
    report for spreadsheets starts with a byte-order mark (Report.for_spreadsheets).

    `progress(rows, None)` is called every CHUNK rows and once at the end: the
    total is unknown, since rows stream from the database without a count.
    """
    writer = csv.writer(_Echo())
    yield (BOM if report.for_spreadsheets else "") + writer.writerow(report.header)
    written = 0
    for row in report.rows:
        yield writer.writerow([_cell(value) for value in row])
        written += 1
        if progress is not None and written % CHUNK == 0:
            progress(written, None)
    if progress is not None:
        progress(written, None)


def csv_write(report: Report, out: BinaryIO, *, progress: Callable[[int, None], None] | None = None) -> None:
    """Write the report's CSV into a binary file as UTF-8: what `export_credit_report
    --output` and the staff's background export job (lms/exports) both write."""
    for line in csv_lines(report, progress=progress):
        out.write(line.encode("utf-8"))


def _cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


REPORTS = ("completions", "pars", "cpe-monitor", "evaluations", "outcomes")


def report_build(name: str, *, date_from: dt.date, date_to: dt.date, credit_type: str = "",
                 activity: Activity | None = None, today: dt.date) -> Report:
    """One report by name (REPORTS); evaluations and outcomes need an activity."""
    if name == "completions":
        return completions(date_from=date_from, date_to=date_to, credit_type=credit_type)
    if name == "pars":
        return pars(date_from=date_from, date_to=date_to)
    if name == "cpe-monitor":
        return cpe_monitor_pending(today=today)
    if activity is None:
        raise ValueError(f"the {name} report needs an activity")
    if name == "evaluations":
        return evaluation_report(activity=activity)
    if name == "outcomes":
        return outcomes_report(activity=activity)
    raise ValueError(f"unknown report {name!r}")
