"""Reads for the export pages."""

from __future__ import annotations

from lms.models import ExportJob


def export_job_get(*, pk: int) -> ExportJob:
    """One job. One query. Raises ExportJob.DoesNotExist."""
    return ExportJob.objects.get(pk=pk)


def export_job_list(*, user, limit: int = 20) -> list[ExportJob]:
    """The user's most recent jobs, newest first. One query."""
    return list(ExportJob.objects.filter(requested_by=user).order_by("-created_at", "-pk")[:limit])
