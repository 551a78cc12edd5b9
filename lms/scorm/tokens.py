"""Signed tokens of the connected SCORM package.

A *package token* is written into the package at export: it names the course,
the organisation whose LMS runs the package and the SCORM version. It does
not expire (a package lives as long as the LMS keeps it); switching the
organisation off (`Organisation.is_active`) stops every package it was given.

A *learner token* is minted by our server when the package starts in the
LMS, for the learner id the LMS's SCORM API gave the package. It expires
(`LMS_SCORM_SESSION_HOURS`), so a launch or status link copied out of a
browser stops working. SCORM has no signed learner identity: anyone holding
the package can claim any learner id of that organisation's LMS, which is
why a package is per organisation and its learners are separate accounts
(ExternalLearner) that no other route can reach.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_PACKAGE_SALT = "lms.scorm.package"
_LEARNER_SALT = "lms.scorm.learner"


@dataclass(frozen=True)
class PackageClaim:
    course_slug: str
    organisation_id: int
    version: str


@dataclass(frozen=True)
class LearnerClaim:
    package: PackageClaim
    learner_id: str
    learner_name: str


def package_token(claim: PackageClaim) -> str:
    return signing.dumps(
        {"c": claim.course_slug, "o": claim.organisation_id, "v": claim.version}, salt=_PACKAGE_SALT
    )


def package_claim(token: str) -> PackageClaim:
    """Raises signing.BadSignature."""
    data = signing.loads(token, salt=_PACKAGE_SALT)
    return PackageClaim(course_slug=data["c"], organisation_id=data["o"], version=data["v"])


def learner_token(claim: LearnerClaim) -> str:
    p = claim.package
    return signing.dumps(
        {"c": p.course_slug, "o": p.organisation_id, "v": p.version, "l": claim.learner_id, "n": claim.learner_name},
        salt=_LEARNER_SALT,
    )


def learner_claim(token: str) -> LearnerClaim:
    """Raises signing.BadSignature (or SignatureExpired, a subclass)."""
    max_age = dt.timedelta(hours=getattr(settings, "LMS_SCORM_SESSION_HOURS", 12))
    data = signing.loads(token, salt=_LEARNER_SALT, max_age=max_age)
    package = PackageClaim(course_slug=data["c"], organisation_id=data["o"], version=data["v"])
    return LearnerClaim(package=package, learner_id=data["l"], learner_name=data["n"])
