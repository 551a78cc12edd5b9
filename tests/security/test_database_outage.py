"""A database that is unreachable for a moment gives a clear 503, and the next request recovers.

The outage is real: the connection is closed and pointed at a port where no
database answers, then pointed back. PostgreSQL only (the production
database); SQLite's in-memory test database cannot be disconnected.
"""

from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse

from tests.factories import CourseFactory


@pytest.fixture
def unreachable_database(transactional_db):
    saved = dict(connection.settings_dict)

    def break_it():
        connection.close()
        connection.settings_dict["PORT"] = "1"  # nothing listens there

    def restore():
        connection.close()
        connection.settings_dict.update(saved)

    yield break_it, restore
    restore()


@pytest.mark.postgres
def test_unreachable_database_gives_503_then_recovers(client, unreachable_database):
    break_it, restore = unreachable_database
    CourseFactory()
    url = reverse("curriculum:catalogue")
    assert client.get(url).status_code == HTTPStatus.OK

    break_it()
    response = client.get(url)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert b"cannot reach its database" in response.content

    restore()
    assert client.get(url).status_code == HTTPStatus.OK
