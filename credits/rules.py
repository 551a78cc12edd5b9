"""The accreditation rules as pure functions: no database, no clock.

The publish check, identifier formats (birth month/day, ACPE UAN; the
learner's NPI and NABP e-Profile ID are in accounts/identifiers.py, which the
profile applies too), the hours a learner may attest, and the audit log's
canonical hashing live here, so each rule is tested without a database and
the services, forms and admin all apply the same one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

# ACPE Universal Activity Number: provider (4) - joint provider (4, 0000 if
# none) - year (2) - sequence (3) - format + topic ("H" home study, the
# format of enduring online material, and a two-digit topic designator) -
# audience (P pharmacists, T technicians).
UAN_PATTERN = re.compile(r"^\d{4}-\d{4}-\d{2}-\d{3}-H\d{2}-[PT]$")
# Enduring material: expiry at most three years after release or last review.
MAX_ENDURING_YEARS = 3
PLACEHOLDER_MARK = "placeholder"


def birth_month_day_is_valid(month: int | None, day: int | None) -> bool:
    """A real month and day (29 February allowed: CPE Monitor matches on month and day only)."""
    if month is None or day is None or not 1 <= month <= 12:
        return False
    return 1 <= day <= calendar.monthrange(2024, month)[1]  # 2024: a leap year


def uan_is_valid(uan: str) -> bool:
    return bool(UAN_PATTERN.fullmatch(uan or ""))


def hours_problem(hours: Decimal, *, maximum: Decimal, increment: Decimal) -> str:
    """Why `hours` cannot be attested ('' if it can): positive, at most the maximum, whole increments."""
    try:
        hours = Decimal(hours)
    except (InvalidOperation, TypeError):
        return "Enter the time you spent as a number of hours."
    if hours <= 0:
        return "Enter the time you spent, more than zero hours."
    if hours > maximum:
        return f"You can claim at most {maximum} hours for this activity."
    if hours % increment != 0:
        return f"Claim time in steps of {increment} hours."
    return ""


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def amount_texts(amount: Decimal) -> set[str]:
    """Ways a statement may write an amount: 1.50, 1.5; 2.00, 2.0, 2."""
    fixed = f"{amount:.2f}"
    return {fixed, fixed.rstrip("0"), fixed.rstrip("0").rstrip(".")} - {""}


# --- the publish check ---------------------------------------------------------------


@dataclass(frozen=True)
class DesignationFacts:
    credit_type: str
    label: str
    is_accredited: bool
    max_amount: Decimal | None
    increment: Decimal
    designation_statement: str
    accreditation_statement: str
    uan: str


@dataclass(frozen=True)
class ActivityFacts:
    """What the publish check reads, copied from Course, Activity and its designations."""

    title: str
    faculty: list[dict]
    disclosure_mitigation: str
    commercial_support: str
    accreditation_notice: str
    hardware_software: str
    privacy: str
    release_date: dt.date
    review_date: dt.date
    expiry_date: dt.date
    provider_name: str
    provider_address: str
    designations: tuple[DesignationFacts, ...]
    # What a certificate would print blank: {"The course title": ["王", ...]} for each printed
    # text with characters the certificate font lacks (`credits.pdf.unprintable`).
    unprintable: dict[str, list[str]] = field(default_factory=dict)


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _placeholder(text: str | None) -> bool:
    return PLACEHOLDER_MARK in (text or "").lower()


def publish_check(facts: ActivityFacts, *, today: dt.date) -> list[str]:
    """Every missing or invalid item that stops the activity being published ([] if none).

    Accredited credit may not be offered while faculty disclosures or the
    mitigation statement are placeholders; a certificate of completion may
    (the bundled course says plainly that it is not accredited).
    """
    problems: list[str] = []
    offered = facts.designations
    accredited = [d for d in offered if d.is_accredited]

    if not facts.faculty:
        problems.append("No faculty or planners are listed, so there are no disclosures.")
    for person in facts.faculty:
        name = (person.get("name") or "").strip() or "A faculty member"
        if _blank(person.get("disclosure")):
            problems.append(f"{name} has no disclosure of financial relationships (or statement that none exist).")
        elif accredited and _placeholder(person.get("disclosure")):
            problems.append(f"{name}'s disclosure is still a placeholder; accredited credit needs the real one.")
    if _blank(facts.disclosure_mitigation):
        problems.append("The statement of how relevant financial relationships were mitigated is missing.")
    elif accredited and _placeholder(facts.disclosure_mitigation):
        problems.append("The mitigation statement is still a placeholder; accredited credit needs the real one.")
    if _blank(facts.commercial_support):
        problems.append("Commercial support is not stated (write 'None' or name the supporters).")
    if _blank(facts.privacy):
        problems.append("The privacy policy text is missing.")
    if _blank(facts.hardware_software):
        problems.append("The hardware/software requirements text is missing.")
    if _blank(facts.provider_name):
        problems.append("The provider's name is missing.")
    if _blank(facts.provider_address):
        problems.append("The provider's address is missing.")

    if facts.expiry_date <= facts.release_date:
        problems.append("The expiry date is not after the release date.")
    latest = max(facts.release_date, facts.review_date)
    if facts.expiry_date > add_years(latest, MAX_ENDURING_YEARS):
        problems.append(
            f"The expiry date {facts.expiry_date} is more than {MAX_ENDURING_YEARS} years after the "
            f"release or last review ({latest})."
        )
    if facts.expiry_date < today:
        problems.append(f"The activity expired on {facts.expiry_date}; no new credit may be offered.")

    if not offered:
        problems.append("No credit designation is offered (add one, e.g. a certificate of completion).")
    for d in offered:
        problems.extend(_designation_problems(d, facts))
    for what, missing in facts.unprintable.items():
        problems.append(f"{what} has characters the certificate cannot print: {' '.join(missing)}.")
    return problems


def _designation_problems(d: DesignationFacts, facts: ActivityFacts) -> Iterable[str]:
    if d.max_amount is None:
        yield f"{d.label}: the credit amount is missing."
    elif d.max_amount % d.increment != 0:
        yield f"{d.label}: the amount {d.max_amount} is not a whole number of {d.increment}-hour steps."
    if d.is_accredited:
        if _blank(d.designation_statement):
            yield f"{d.label}: the credit designation statement is missing."
        elif d.max_amount is not None and not any(t in d.designation_statement for t in amount_texts(d.max_amount)):
            yield f"{d.label}: the designation statement does not state the amount ({d.max_amount})."
        if _blank(d.accreditation_statement):
            yield f"{d.label}: the accreditation statement is missing."
    elif _blank(d.accreditation_statement) and _blank(facts.accreditation_notice):
        yield f"{d.label}: the statement that the activity is not accredited is missing."
    if d.credit_type == "acpe" and not uan_is_valid(d.uan):
        yield (
            f"{d.label}: the Universal Activity Number {d.uan or '(empty)'} is not in the form "
            "XXXX-XXXX-YY-NNN-H##-P (or -T) for home study."
        )


# --- the audit chain -------------------------------------------------------------------


def canonical_json(value) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept. Dates and decimals as strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_hash(*, seq: int, occurred_at: dt.datetime, actor_id: int | None, action: str, object_ref: str,
               data: dict, prev_hash: str) -> str:
    payload = {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(),
        "actor_id": actor_id,
        "action": action,
        "object_ref": object_ref,
        "data": data,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
