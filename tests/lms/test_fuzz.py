"""The API fuzzed from its committed schema (schemathesis): no 5xx, and every
response's status, content type and body as documented.

Runs in process against the WSGI app, as an integration token with every
scope, over a small organisation with an enrolled learner and progress.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from curriculum.services import lesson_progress_complete
from lms.models import Scope
from tests.factories import LessonFactory
from tests.lms.factories import EnrolmentFactory, token_for
from tests.lms.schema import SCHEMA_PATH

schema = schemathesis.openapi.from_path(SCHEMA_PATH)
_django_app = get_wsgi_application()


def app(environ, start_response):
    """The WSGI app, minus Django's per-request connection clean-up, as its test client does:
    that clean-up would close the connection holding the test's transaction (on PostgreSQL)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = _django_app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def token(db, organisation, settings):
    settings.LMS_API_TOKEN_RATE = "100000/min"  # the fuzzer is not a client to throttle
    cache.clear()
    identity = EnrolmentFactory(learner__organisation=organisation, learner__external_id="emp-1").learner
    for lesson in LessonFactory.create_batch(2, course=identity.enrolments.get().course):
        lesson_progress_complete(learner=identity.user, lesson=lesson, served_token=None, max_minutes=60)
    return token_for(organisation, Scope.values)


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, token):
    # The generated security values (an empty bearer, a blank session) are replaced by real ones.
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.cookies = {}
    case.call_and_validate(app=app, checks=CHECKS)


@pytest.fixture
def learner_session(db, settings):
    """Cookies and headers of a signed-in learner with progress, CSRF token included."""
    from django.test import Client

    from tests.factories import UserFactory

    settings.LMS_API_LEARNER_RATE = "100000/min"
    cache.clear()
    user = UserFactory()
    for lesson in LessonFactory.create_batch(2):
        lesson_progress_complete(learner=user, lesson=lesson, served_token=None, max_minutes=60)
    client = Client()
    client.force_login(user)
    csrf = "k" * 32  # a CSRF secret: the cookie and the header must match
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": csrf}, {"X-CSRFToken": csrf}


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_as_a_signed_in_learner_never_errors_and_matches_its_schema(case, learner_session):
    cookies, headers = learner_session
    case.headers = {**{k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}, **headers}
    case.cookies = cookies
    case.call_and_validate(app=app, checks=CHECKS)
