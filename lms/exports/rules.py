"""Who may start an export, and who may read a job's file (pure: no query of its own).

Being staff is not enough for everything: every course author is staff, and
a QTI package or a self-contained SCORM package carries answer keys, a credit
report carries learners' names and licence numbers. Those need a permission
of their own (ExportJob.Meta.permissions; credits' Claim.Meta for the
credit report, which the credits report pages require too), given to a person or a group in the
admin. A connected SCORM package holds no course content and no key, so any
staff member may build one, as before.
"""

from __future__ import annotations

ANSWER_KEYS = "lms.export_answer_keys"
CREDIT_REPORT = "credits.export_credit_report"  # credits owns the reports (Claim.Meta)
STAFF = ""  # no permission beyond is_staff


def permission_for(kind: str, parameters: dict) -> str:
    """The permission an export of `kind` with `parameters` needs, STAFF if none."""
    if kind == "qti":
        return ANSWER_KEYS
    if kind == "scorm":
        return STAFF if parameters.get("mode", "connected") == "connected" else ANSWER_KEYS
    return CREDIT_REPORT


def may_export(user, kind: str, parameters: dict) -> bool:
    """Staff with the kind's permission. Django caches a user's permissions per
    request object, so asking for several kinds costs the permission queries once."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    permission = permission_for(kind, parameters)
    return permission == STAFF or user.has_perm(permission)


def may_read(user, job) -> bool:
    """The job's requester (still staff) or anyone who may run the same export."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return job.requested_by_id == user.pk or may_export(user, job.kind, job.parameters)
