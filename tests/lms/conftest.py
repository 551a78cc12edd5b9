"""Fixtures for the LMS tests. Every API client here checks each response
against the committed docs/openapi.yaml (tests/lms/schema.py)."""

import pytest

from tests.lms.factories import OrganisationFactory, token_for
from tests.lms.schema import SchemaCheckedAPIClient as APIClient


@pytest.fixture
def organisation(db):
    return OrganisationFactory()


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_client(organisation):
    """token_client(*scopes, organisation=None): an APIClient sending a fresh token."""

    def make(*scopes, organisation=organisation):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(organisation, scopes)}")
        return client

    return make


@pytest.fixture
def learner_api(learner):
    client = APIClient()
    client.force_authenticate(user=learner)
    return client


@pytest.fixture(params=["walk", "gather"])
def feed_branch(request, monkeypatch):
    """Each of the two ways PostgreSQL's feed pages find a page (`lms.selectors._FEED_SCOPED_SQL`,
    and the certificate feed's `_CERTIFICATE_GATHERING_SQL`): walking every organisation's rows,
    or gathering the organisation's own learners'. The threshold between them is moved so that
    every organisation takes the branch asked for; SQLite has one way only, and runs the test once
    for each parameter."""
    from lms import selectors

    monkeypatch.setattr(selectors, "_FEED_THRESHOLD_SQL", "0" if request.param == "walk" else "1000000")
    return request.param
