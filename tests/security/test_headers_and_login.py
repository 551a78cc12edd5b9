"""Security headers on every page and log-in throttling."""

import os
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import LessonFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_pages_send_strict_security_headers(client):
    lesson = LessonFactory()
    for url in [
        reverse("curriculum:catalogue"),
        reverse("curriculum:lesson_detail", args=[lesson.course.slug, lesson.slug]),
        reverse("accounts:login"),
    ]:
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, url
        assert "frame-ancestors 'none'" in csp, url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["X-Content-Type-Options"] == "nosniff", url


def test_production_sends_hsts_and_redirects_to_https():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(DJANGO_DEBUG="false", DJANGO_SECRET_KEY="k" * 60, DJANGO_ALLOWED_HOSTS="testserver")
    code = (
        "import django; django.setup();"
        "from django.conf import settings;"  # no collectstatic manifest in a test run
        "settings.STORAGES['staticfiles'] = {'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'};"
        "from django.test import Client;"
        "r = Client().get('/accounts/login/', secure=True);"
        "print(r.status_code, r.headers.get('Strict-Transport-Security'));"
        "print(Client().get('/accounts/login/').status_code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, check=False,
    )
    secure_line, plain_line = result.stdout.strip().splitlines()[-2:]
    assert secure_line == "200 max-age=31536000; includeSubDomains; preload", result.stderr
    assert plain_line == "301"


@pytest.mark.django_db
def test_login_is_throttled_after_repeated_failures(client, settings):
    User.objects.create_user("target@example.org", "the-real-passphrase", full_name="T")
    url = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        failed = client.post(url, {"username": "target@example.org", "password": "wrong"})
        assert failed.status_code == HTTPStatus.BAD_REQUEST  # the form again, saying what is wrong
    locked = client.post(url, {"username": "target@example.org", "password": "wrong"})
    assert locked.status_code == HTTPStatus.TOO_MANY_REQUESTS
    # Even the right password is refused while locked out.
    right = client.post(url, {"username": "target@example.org", "password": "the-real-passphrase"})
    assert right.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert "_auth_user_id" not in client.session
