"""WSGI entry point for gunicorn (`gunicorn config.wsgi`)."""

import os

from django.core.cache import caches
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def load_lazy_parts() -> None:
    """Load what Django loads on a worker's first request.

    Each gunicorn worker runs this as it boots, before it accepts a request.
    Django imports the URLconf (with every view module) and the cache backends
    (django-redis, which sessions and throttles use) on first use, so the
    first request a new or restarted worker served took 0.3 s longer than the
    next (issue #8).
    """
    get_resolver().check()  # reads every URL pattern: imports every URL module, with the views
    caches.all(initialized_only=False)


load_lazy_parts()
