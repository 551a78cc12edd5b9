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
