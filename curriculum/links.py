"""`reverse`, once per process for each URL name and arguments.

URL patterns are fixed at start-up, so a path reversed once is the same for
every later request with the same script prefix and URLconf (both are in the
key). Pages that link to many places per request (the course page's lessons,
the dashboard's quizzes) call `url` rather than the `{% url %}` tag, which
resolves the pattern again on every render.
"""

import functools

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


@functools.lru_cache(maxsize=1024)
def _reverse_cached(name: str, args: tuple, script_prefix: str, urlconf) -> str:
    return reverse(name, args=args, urlconf=urlconf)


def url(name: str, *args) -> str:
    """The path of URL `name` with positional `args` (strings or integers), as `reverse` gives it."""
    return _reverse_cached(name, args, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
