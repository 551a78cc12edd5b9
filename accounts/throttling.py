"""The name django-axes (log-in throttling) records a failed log-in under."""

from __future__ import annotations

from django.conf import settings

# axes's AccessAttempt.username column.
AXES_USERNAME_LENGTH = 255


def axes_username(request, credentials: dict | None = None) -> str | None:
    """What was typed as the e-mail address, as axes reads it by default, cut to its column.

    axes stores it uncut, so a longer one failed the insert (a 500 on
    PostgreSQL, tests/security/test_junk_input.py). No account's address is
    that long (254 at most), so failures under a cut name lock out no one.
    """
    if credentials:
        value = credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    else:
        value = getattr(request, "data", request.POST).get(settings.AXES_USERNAME_FORM_FIELD)
    return value[:AXES_USERNAME_LENGTH] if isinstance(value, str) else value
