"""The committed OpenAPI schema is current and valid, and its docs are served without a CDN."""

import re
from http import HTTPStatus

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

from tests.lms.schema import SCHEMA_PATH


def test_committed_schema_is_current(tmp_path):
    """Fails when an API change was not followed by `make schema` (docs/openapi.yaml)."""
    fresh = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(fresh), "--validate", "--fail-on-warn")
    assert fresh.read_text() == SCHEMA_PATH.read_text(), "docs/openapi.yaml is stale: run `make schema`"


def test_schema_documents_the_error_shape_for_every_operation():
    import yaml

    spec = yaml.safe_load(SCHEMA_PATH.read_text())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for code in ("400", "401", "403", "404", "429"):
                assert operation["responses"][code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, f"{method} {path} {code}"


@pytest.mark.django_db
def test_api_docs_are_served_from_our_own_static_files():
    client = Client()
    page = client.get("/api/docs/")
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert "<script>" not in html and "<style" not in html  # nothing inline: the strict CSP holds
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u.startswith(("http:", "https:", "//"))]
    assert external == []
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert client.get("/api/docs/?script=")["Content-Type"] == "application/javascript"
    assert client.get("/api/schema/").status_code == HTTPStatus.OK
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset), asset
