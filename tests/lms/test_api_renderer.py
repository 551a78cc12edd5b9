"""The API's renderer encodes with orjson, but writes exactly the bytes DRF's JSONRenderer writes."""

import datetime as dt
import decimal
import uuid
from collections import OrderedDict
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from lms.api.v1.base import ApiJSONRenderer, RenderedJSON, render_json
from lms.models import Scope

UTC = dt.UTC
PAYLOADS = {
    "feed page": ReturnDict(
        next="https://ce.example.org/api/v1/progress/?cursor=cD0yMDI2", previous=None,
        results=ReturnList([OrderedDict(external_id="emp-1", seconds_on_page=0, completed_at=None)], serializer=None),
        serializer=None,
    ),
    "times": {
        "utc": dt.datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=UTC),
        "utc, whole second": dt.datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        "new york": dt.datetime(2026, 11, 26, 4, 30, tzinfo=ZoneInfo("America/New_York")),
        "naive": dt.datetime(2026, 11, 26, 9, 30),
        "date": dt.date(2026, 11, 26),
        "time": dt.time(9, 30, 15, 250),
        "duration": dt.timedelta(minutes=90),
    },
    "numbers": {"amount": decimal.Decimal("1.50"), "int": 7, "negative": -3, "float": 0.1, "big": 2**63 - 1,
                "bools": [True, False], "none": None},
    "text": {"name": "Zoë Ñúñez", "credit": "AMA PRA Category 1 Credits™", "emoji": "💊", "quote": 'a "b" \\ c',
             "control": "tab\tnew\nline\x00", "separators": "line\u2028paragraph\u2029end",
             "html": "</script><script>", "lazy": gettext_lazy("Not found."),
             "error": ErrorDetail("This field is required.", code="required")},
    "keys": {1: "int key", None: "none key", "": "empty", 2.5: "float key"},
    "bool keys": {True: "yes", False: "no"},
    "containers": {"tuple": (1, 2), "set": {3}, "generator": (n for n in range(2)), "uuid": uuid.UUID(int=5),
                   "nested": [[{"a": []}], {}]},
    "beyond 64 bits": {"n": 2**70},
    "empty list": [],
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_api_renderer_writes_drfs_bytes(name):
    ours = ApiJSONRenderer().render(PAYLOADS[name])
    # Generators are used up by rendering: build the payload again for DRF.
    theirs = JSONRenderer().render(_fresh(PAYLOADS[name]))
    assert ours == theirs


def _fresh(payload):
    if isinstance(payload, dict) and "generator" in payload:
        return {**payload, "generator": (n for n in range(2))}
    return payload


def test_an_indented_response_asked_for_is_drfs_too():
    data = {"a": [1, {"b": None}]}
    ours = ApiJSONRenderer().render(data, "application/json; indent=2")
    assert ours == JSONRenderer().render(data, "application/json; indent=2")
    assert b"\n  " in ours


def test_no_data_is_an_empty_body_and_rendered_bytes_pass_through():
    assert ApiJSONRenderer().render(None) == b""
    assert ApiJSONRenderer().render(RenderedJSON(b'{"x":1}')) == b'{"x":1}'
    assert render_json({"x": dt.date(2026, 1, 2)}) == b'{"x":"2026-01-02"}'


def test_an_object_neither_encoder_knows_is_the_same_error():
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": object()})
    with pytest.raises(TypeError):
        ApiJSONRenderer().render({"x": object()})


@pytest.mark.django_db
def test_a_feed_response_is_the_bytes_drf_would_have_sent(token_client, organisation):
    from tests.lms.test_api_feeds import _progress

    _progress(organisation, learners=3, lessons=2)
    response = token_client(Scope.PROGRESS_READ).get(reverse("v1:progress-feed-list"), {"page_size": 4})
    assert response.status_code == HTTPStatus.OK
    assert len(response.json()["results"]) == 4 and response.json()["next"]
    assert response.content == JSONRenderer().render(response.data)
