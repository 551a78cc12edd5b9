"""Deployment checks (`manage.py check --deploy`) for settings a production site must not leave empty."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def public_url_check(app_configs=None, **kwargs) -> list[Warning]:
    """The site's public address: statements and e-mails leave the request behind.

    Pages and the API build links from the request's address when
    CREDITS_PUBLIC_URL is empty, but nothing sent from a worker has a
    request: xAPI activity ids would be http://localhost:8000/..., which an LRS
    keeps for good, and link-request e-mails would carry a relative link.
    """
    if settings.CREDITS_PUBLIC_URL:
        return []
    return [
        Warning(
            "CREDITS_PUBLIC_URL is not set.",
            hint=(
                "Set it to the site's public address (e.g. https://ce.example.org) before the first learner "
                "arrives: without it e-mails to learners carry a relative link, and unless "
                "LMS_XAPI_ACTIVITY_BASE is set, xAPI activity ids are http://localhost:8000/... (an LRS keeps "
                "them for good)."
            ),
            id="lms.W001",
        )
    ]
