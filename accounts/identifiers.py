"""What a learner's profile may hold: the identifier formats accreditors match on, and the checks
other apps add on the name printed on certificates.

The claim (credits) applies the same rules, so a profile that saves is one a claim accepts: an NPI
whose check digit is wrong, or an e-Profile ID CPE Monitor would reject, is refused where the
learner types it, not later at the claim. No database and no clock here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# NABP issues e-Profile IDs as numbers of up to seven digits; CPE Monitor rejects anything else.
NABP_EPROFILE_PATTERN = re.compile(r"^[1-9]\d{0,6}$")
LICENCE_STATE_PATTERN = re.compile(r"^[A-Z]{2}$")

NPI_INVALID = "This NPI is not valid: check the 10 digits (the last is a check digit)."
NABP_EPROFILE_INVALID = "An NABP e-Profile ID is a number of up to 7 digits, e.g. 1234567."


def npi_is_valid(npi: str) -> bool:
    """A 10-digit NPI whose last digit is the Luhn check digit over '80840' + the first nine.

    The 80840 prefix is the NPI's card-issuer prefix (CMS, NPI check digit
    specification); 1234567893 is CMS's worked example.
    """
    if not re.fullmatch(r"\d{10}", npi or ""):
        return False
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def nabp_eprofile_is_valid(value: str) -> bool:
    return bool(NABP_EPROFILE_PATTERN.fullmatch(value or ""))


# --- the name on certificates -------------------------------------------------------------------
# The certificate is drawn by an app above this one (credits), which registers its check when it
# loads (credits/apps.py), so sign-up and the profile refuse a name the certificate cannot print
# without this app importing it.

_full_name_checks: list[Callable[[str], str]] = []


def full_name_check_register(check: Callable[[str], str]) -> None:
    """Add a check returning why a name cannot be used ("" if it can). Registering twice is a no-op."""
    if check not in _full_name_checks:
        _full_name_checks.append(check)


def full_name_problem(name: str) -> str:
    """The first registered check's objection to `name`, or ""."""
    for check in _full_name_checks:
        if problem := check(name):
            return problem
    return ""
