"""Reads for the LTI pages."""

from django.db.models import Prefetch

from curriculum.models import Course, Lesson
from lms.lti.models import Platform


def placement_options_list() -> list[Course]:
    """Published courses with their published lessons in order, for the deep-linking page.

    Two queries whatever the catalogue size.
    """
    lessons = Lesson.objects.published().select_related("current_version").order_by("position")
    return list(Course.objects.published().prefetch_related(Prefetch("lessons", queryset=lessons)).order_by("title"))


def platform_jwks_list() -> list[dict]:
    """Our public keys, one per active platform registration. One query."""
    return [p.tool_public_jwk for p in Platform.objects.filter(is_active=True).order_by("pk")]


def platform_claimed_get(*, iss: str | None, client_id: str | None) -> Platform | None:
    """The registration an unverified request claims to come from, or None. One query.

    Only used to let that platform's registered origin frame our error page:
    the origin comes from our table, never from the request.
    """
    if not iss:
        return None
    rows = Platform.objects.filter(issuer=iss, is_active=True)
    if client_id:
        rows = rows.filter(client_id=client_id)
    found = list(rows[:2])
    return found[0] if len(found) == 1 else None


def platform_frame_origins_get(*, platform_id: int) -> list[str]:
    """The origins that may frame a session launched from this platform; [] if the
    registration is gone or switched off. One query (per request of a launched
    session, so that removing an origin or a platform takes effect at once)."""
    row = Platform.objects.filter(pk=platform_id, is_active=True).values_list("frame_origins", flat=True).first()
    return list(row or [])
