"""Writes of the connected SCORM package: the LMS learner's account on our server."""

from __future__ import annotations

import hashlib

from lms.models import Organisation
from lms.scorm.tokens import LearnerClaim
from lms.services import enrolment_sync

DEFAULT_ORGANISATION = "scorm-packages"


def scorm_default_organisation(*, slug: str = DEFAULT_ORGANISATION) -> Organisation:
    """The organisation a package is issued to when none is named; created on first use.

    Idempotent. Two queries at most (get, then create).
    """
    organisation, _ = Organisation.objects.get_or_create(slug=slug, defaults={"name": "SCORM packages (default)"})
    return organisation


def scorm_learner_launch(*, claim: LearnerClaim):
    """The account of the LMS learner named by `claim`, enrolled in the package's course.

    Idempotent: the same learner launching again gets the same account
    (ExternalLearner keyed by organisation and `scorm:<learner id>`). The
    e-mail is a placeholder in the reserved `.invalid` domain: SCORM gives no
    address, and the learner adds a real one on our site when they claim
    credit. Raises Organisation.DoesNotExist for a switched-off organisation.
    """
    organisation = Organisation.objects.get(pk=claim.package.organisation_id, is_active=True)
    digest = hashlib.sha256(f"{organisation.pk}:{claim.learner_id}".encode()).hexdigest()[:24]
    enrolment, _ = enrolment_sync(
        organisation=organisation,
        external_id=f"scorm:{claim.learner_id}",
        email=f"scorm-{digest}@scorm.invalid",
        full_name=claim.learner_name or "SCORM learner",
        course_slug=claim.package.course_slug,
    )
    return enrolment.learner.user
