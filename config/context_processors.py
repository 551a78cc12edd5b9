"""Template context for every page rendered with a request."""

import functools

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# The site header's links (templates/base.html), by URL name.
_NAV = {
    "catalogue": "curriculum:catalogue",
    "dashboard": "quizzes:dashboard",
    "transcript": "credits:transcript",
    "profile": "accounts:profile",
    "logout": "accounts:logout",
    "login": "accounts:login",
    "signup": "accounts:signup",
    "admin": "admin:index",
}


@functools.lru_cache(maxsize=16)
def _nav_urls(script_prefix: str, urlconf) -> dict[str, str]:
    return {key: reverse(name, urlconf=urlconf) for key, name in _NAV.items()}


def nav(request) -> dict:
    """`nav`: the header's links, reversed once per process instead of five `{% url %}`s per page.

    The URL patterns are fixed when the process starts, so a reversed URL
    changes only with the script prefix (a deployment under a sub-path) or a
    per-request or overridden URLconf, which are the cache key.
    """
    return {"nav": _nav_urls(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)}
