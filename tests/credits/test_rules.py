"""The accreditation rules as pure functions (no database)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from credits import rules

TODAY = dt.date(2026, 11, 25)

AMA = rules.DesignationFacts(
    credit_type="ama_pra_1", label="AMA PRA Category 1 Credit™", is_accredited=True, max_amount=Decimal("1.50"),
    increment=Decimal("0.25"), designation_statement="designates … a maximum of 1.5 AMA PRA Category 1 Credits™.",
    accreditation_statement="Accredited (placeholder text).", uan="",
)
ACPE = dataclasses.replace(
    AMA, credit_type="acpe", label="ACPE contact hours", designation_statement="1.50 contact hours.",
    uan="0123-4567-26-001-H01-P",
)
CLEAN = rules.ActivityFacts(
    title="Course", faculty=[{"name": "Dr A", "disclosure": "Nothing to disclose."}],
    disclosure_mitigation="Nothing to mitigate.", commercial_support="None.", accreditation_notice="Notice.",
    hardware_software="A browser.", privacy="Privacy text.", release_date=dt.date(2026, 1, 1),
    review_date=dt.date(2026, 6, 1), expiry_date=dt.date(2027, 1, 1), provider_name="Provider",
    provider_address="Address", designations=(AMA, ACPE),
)


def test_clean_activity_has_no_problems():
    assert rules.publish_check(CLEAN, today=TODAY) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"faculty": []}, "No faculty"),
        ({"faculty": [{"name": "Dr A", "disclosure": ""}]}, "Dr A has no disclosure"),
        ({"faculty": [{"name": "Dr A", "disclosure": "Placeholder: later."}]}, "still a placeholder"),
        ({"disclosure_mitigation": " "}, "mitigated is missing"),
        ({"disclosure_mitigation": "Placeholder: later."}, "mitigation statement is still a placeholder"),
        ({"commercial_support": ""}, "Commercial support"),
        ({"privacy": ""}, "privacy"),
        ({"hardware_software": ""}, "hardware/software"),
        ({"provider_name": ""}, "provider's name"),
        ({"provider_address": ""}, "provider's address"),
        ({"expiry_date": dt.date(2029, 6, 2)}, "more than 3 years"),
        ({"release_date": dt.date(2027, 1, 1), "review_date": dt.date(2027, 1, 1)}, "not after the release"),
        ({"expiry_date": dt.date(2026, 11, 24)}, "expired"),
        ({"designations": ()}, "No credit designation"),
        ({"designations": (dataclasses.replace(AMA, max_amount=None),)}, "amount is missing"),
        ({"designations": (dataclasses.replace(AMA, max_amount=Decimal("1.10"), designation_statement="1.10 credits"),)},
         "not a whole number"),
        ({"designations": (dataclasses.replace(AMA, designation_statement=""),)}, "designation statement is missing"),
        ({"designations": (dataclasses.replace(AMA, designation_statement="Some credits."),)}, "does not state the amount"),
        ({"designations": (dataclasses.replace(AMA, accreditation_statement=""),)}, "accreditation statement is missing"),
        ({"designations": (dataclasses.replace(ACPE, uan=""),)}, "Universal Activity Number"),
        ({"designations": (dataclasses.replace(ACPE, uan="0123-4567-26-001-L01-P"),)}, "home study"),
        ({"designations": (dataclasses.replace(ACPE, uan="0123-4567-26-001-H01-X"),)}, "Universal Activity Number"),
    ],
)
def test_publish_check_reports_each_missing_or_invalid_item(change, expected):
    problems = rules.publish_check(dataclasses.replace(CLEAN, **change), today=TODAY)
    assert len(problems) == 1
    assert expected in problems[0]


def test_publish_check_names_each_text_a_certificate_would_print_blank():
    facts = dataclasses.replace(CLEAN, unprintable={"The course title": ["克", "拉"], "The provider's name": ["ก"]})
    assert rules.publish_check(facts, today=TODAY) == [
        "The course title has characters the certificate cannot print: 克 拉.",
        "The provider's name has characters the certificate cannot print: ก.",
    ]


def test_expiry_three_years_after_last_review_is_allowed():
    facts = dataclasses.replace(CLEAN, expiry_date=dt.date(2029, 6, 1))
    assert rules.publish_check(facts, today=TODAY) == []


def test_placeholder_disclosures_allow_a_certificate_of_completion():
    completion = dataclasses.replace(AMA, credit_type="completion", label="Completion", is_accredited=False,
                                     designation_statement="", accreditation_statement="")
    facts = dataclasses.replace(
        CLEAN, designations=(completion,), disclosure_mitigation="Placeholder: later.",
        faculty=[{"name": "TBD", "disclosure": "Placeholder: later."}],
    )
    assert rules.publish_check(facts, today=TODAY) == []


def test_publish_check_lists_every_problem_at_once():
    facts = dataclasses.replace(CLEAN, privacy="", hardware_software="", provider_name="")
    assert len(rules.publish_check(facts, today=TODAY)) == 3


@pytest.mark.parametrize(("month", "day", "valid"), [(2, 29, True), (4, 31, False), (13, 1, False),
                                                     (None, 1, False), (12, 31, True), (1, 0, False)])
def test_birth_month_and_day_must_be_a_real_date(month, day, valid):
    assert rules.birth_month_day_is_valid(month, day) is valid


@pytest.mark.parametrize(
    ("hours", "problem"),
    [("1.50", ""), ("2.00", ""), ("2.25", "at most"), ("0", "more than zero"), ("1.10", "steps of")],
)
def test_attested_hours_are_capped_and_in_increments(hours, problem):
    result = rules.hours_problem(Decimal(hours), maximum=Decimal("2.00"), increment=Decimal("0.25"))
    assert (problem in result) if problem else result == ""


def test_audit_hash_is_independent_of_key_order():
    when = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    one = rules.audit_hash(seq=1, occurred_at=when, actor_id=3, action="a", object_ref="x:1",
                           data={"b": 1, "a": "2"}, prev_hash="")
    two = rules.audit_hash(seq=1, occurred_at=when, actor_id=3, action="a", object_ref="x:1",
                           data={"a": "2", "b": 1}, prev_hash="")
    changed = rules.audit_hash(seq=1, occurred_at=when, actor_id=3, action="a", object_ref="x:1",
                               data={"a": "3", "b": 1}, prev_hash="")
    assert one == two != changed
