"""A gunicorn worker loads the URLconf, the views and the cache backends as it boots, not on its first request."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter (this one has loaded everything already): the modules that
# importing the WSGI module loads, and those that a first request still had to load.
PROBE = """
import json, sys
import config.wsgi
loaded = set(sys.modules)
from django.test import Client
response = Client().get("/no-such-page/")
ours = ("config.", "accounts.", "curriculum.", "quizzes.", "credits.", "lms.", "django_redis.",
        "django.core.cache.backends.")
print(json.dumps({
    "status": response.status_code,
    "views": [m in loaded for m in ("config.urls", "curriculum.views", "quizzes.views", "credits.views",
                                    "lms.api.v1.views", "lms.lti.views")],
    "first_request_imported": sorted(m for m in set(sys.modules) - loaded if (m + ".").startswith(ours)),
}))
"""


def test_importing_the_wsgi_module_loads_what_a_first_request_would():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "LMS_"))}
    # pragma: allowlist nextline secret
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_SECRET_KEY="wsgi-probe", DJANGO_DEBUG="true",
               DJANGO_ALLOWED_HOSTS="testserver", DJANGO_SECURE_SSL_REDIRECT="false",
               DATABASE_URL="sqlite:///:memory:")
    completed = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    probe = json.loads(completed.stdout.strip().splitlines()[-1])
    assert probe["status"] == 404
    assert all(probe["views"]), probe["views"]
    assert probe["first_request_imported"] == []
