"""Check an API response against the committed docs/openapi.yaml.

The operation is found from the request's path and method, the response
schema from its status code; objects are made closed (no undocumented field
may appear) before validating with openapi-schema-validator's OAS 3.0 rules
(`nullable`, formats).
"""

import copy
import functools
import json
import re
from pathlib import Path

import yaml
from django.conf import settings
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker, validate
from rest_framework.test import APIClient

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"


def _closed(node):
    if isinstance(node, dict):
        node = {key: _closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


@functools.cache
def spec() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


@functools.cache
def _routes() -> list[tuple[re.Pattern, str]]:
    routes = []
    for template in spec()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal paths before templated ones (/me/progress/ before /{slug}/).
    routes.sort(key=lambda r: r[1].count("{"))
    return routes


def _template(path: str) -> str | None:
    return next((t for rx, t in _routes() if rx.match(path)), None)


def assert_matches_schema(response) -> None:
    """Fail unless the response's status and JSON body are documented for its operation."""
    request = response.wsgi_request
    path, method = request.path, request.method.lower()
    template = _template(path)
    assert template is not None, f"{path} is not in docs/openapi.yaml"
    operation = spec()["paths"][template].get(method)
    assert operation is not None, f"{method.upper()} {template} is not in docs/openapi.yaml"
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, f"{method.upper()} {template} does not document {response.status_code}"
    schema = documented["content"]["application/json"]["schema"]
    root = _closed({**copy.deepcopy(schema), "components": spec()["components"]})
    validate(json.loads(response.content), root, cls=OAS30ReadValidator, format_checker=oas30_format_checker)


def webhook_component(event_type: str) -> str:
    """'lesson.completed' -> 'WebhookLessonCompleted' (lms/api/v1/schema.py)."""
    return "Webhook" + "".join(part.title() for part in event_type.replace("_", ".").split("."))


def assert_matches_component(instance, name: str) -> None:
    """Fail unless `instance` is valid against components/schemas/<name> of the committed schema."""
    assert name in spec()["components"]["schemas"], f"{name} is not in docs/openapi.yaml"
    root = _closed({"$ref": f"#/components/schemas/{name}", "components": spec()["components"]})
    validate(instance, root, cls=OAS30ReadValidator, format_checker=oas30_format_checker)


class SchemaCheckedAPIClient(APIClient):
    """An APIClient that validates every response of a documented operation.

    Requests to a path or method the schema does not have (a 405, an unknown
    URL) are left to the test itself.
    """

    def request(self, **kwargs):
        response = super().request(**kwargs)
        template = _template(response.wsgi_request.path)
        if template and response.wsgi_request.method.lower() in spec()["paths"][template]:
            assert_matches_schema(response)
        return response
