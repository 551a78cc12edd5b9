"""How client.py classifies each kind of answer, against a scripted loopback server.

(The real-LRS behaviour of the same client is in test_lrs.py.)
"""

import json
import socket
from http.server import BaseHTTPRequestHandler

import pytest

from lms.xapi.client import Lrs, same_statement, statement_put
from tests.httpd import free_port, reply, serving

STATEMENT = {
    "id": "6f1f6f7a-9d35-5b0c-8c5e-0c5b5b1b0a11",
    "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "emp-1"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
    "object": {"objectType": "Activity", "id": "https://ce.example.org/courses/c/lessons/l/"},
    "timestamp": "2026-11-25T14:30:01.123Z",
}


class Scripted(BaseHTTPRequestHandler):
    """Answers PUT with `server.put_status`; GET with `server.stored` (as Ralph wraps it)."""

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        self.server.requests.append((self.command, self.path, self.headers, self.rfile.read(length)))
        self.send_response(self.server.put_status)
        if self.server.put_status in {301, 302, 307}:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        self.server.requests.append((self.command, self.path, self.headers, b""))
        reply(self, 200, json.dumps({"statements": [self.server.stored]}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    with serving(Scripted) as server:
        server.requests, server.put_status, server.stored = [], 204, None
        yield server


def _lrs(server) -> Lrs:
    # pragma: allowlist nextline secret
    return Lrs(url=f"http://127.0.0.1:{server.server_address[1]}/xAPI/", key="key", secret="secret", timeout=2)


def test_put_sends_the_id_version_header_and_basic_auth(scripted):
    result = statement_put(_lrs(scripted), STATEMENT)
    method, path, headers, body = scripted.requests[0]
    assert result.ok and result.response_code == 204
    assert method == "PUT"
    assert path == f"/xAPI/statements?statementId={STATEMENT['id']}"
    assert headers["X-Experience-API-Version"] == "1.0.3"
    assert headers["Authorization"] == "Basic a2V5OnNlY3JldA=="  # key:secret
    assert json.loads(body) == STATEMENT


@pytest.mark.parametrize(("status", "ok", "retryable"), [
    (200, True, False), (204, True, False),
    (400, False, False), (401, False, False), (403, False, False), (404, False, False), (413, False, False),
    (302, False, False),  # not followed: a misconfigured endpoint, not a delivery
    (408, False, True), (429, False, True),
    (500, False, True), (502, False, True), (503, False, True),
])
def test_answers_are_classified(scripted, status, ok, retryable):
    scripted.put_status = status
    result = statement_put(_lrs(scripted), STATEMENT)
    assert (result.ok, result.retryable, result.response_code) == (ok, retryable, status)


def test_409_for_the_same_statement_is_delivered(scripted):
    scripted.put_status = 409
    scripted.stored = {**STATEMENT, "timestamp": "2026-11-25T14:30:01.123000+00:00",
                       "stored": "2026-11-25T14:31:00Z", "authority": {"mbox": "mailto:lrs@example.org"}}
    result = statement_put(_lrs(scripted), STATEMENT)
    assert result.ok and result.response_code == 409


def test_409_for_a_different_statement_is_permanent(scripted):
    scripted.put_status = 409
    scripted.stored = {**STATEMENT, "timestamp": "2026-11-25T15:00:00Z"}
    result = statement_put(_lrs(scripted), STATEMENT)
    assert not result.ok and not result.retryable
    assert "different statement" in result.error


def test_refused_connection_is_retryable():
    port = free_port()  # nothing listens there
    result = statement_put(Lrs(url=f"http://127.0.0.1:{port}/xAPI/", key="k", secret="s", timeout=2), STATEMENT)
    assert not result.ok and result.retryable and result.response_code is None


def test_timeout_is_retryable():
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        lrs = Lrs(url=f"http://127.0.0.1:{listener.getsockname()[1]}/xAPI/", key="k", secret="s", timeout=0.5)
        result = statement_put(lrs, STATEMENT)
    assert not result.ok and result.retryable
    assert "timed out" in result.error


def test_a_non_http_endpoint_is_permanent():
    result = statement_put(Lrs(url="file:///etc/", key="k", secret="s"), STATEMENT)
    assert not result.ok and not result.retryable


def test_sameness_ignores_lrs_properties_but_not_content():
    assert same_statement(STATEMENT, {**STATEMENT, "stored": "x", "version": "1.0.3"})
    assert not same_statement(STATEMENT, {**STATEMENT, "verb": {**STATEMENT["verb"], "display": {"en-GB": "x"}}})


def test_409_differing_only_in_an_activity_name_is_delivered(scripted):
    """A quiz renamed between a try whose answer was lost and the retry: the fact arrived."""
    scripted.put_status = 409
    ours = {**STATEMENT, "object": {**STATEMENT["object"], "definition": {"name": {"en-US": "Post-test (v2)"}}}}
    scripted.stored = {**STATEMENT, "object": {**STATEMENT["object"], "definition": {"name": {"en-US": "Post-test"}}}}
    result = statement_put(_lrs(scripted), ours)
    assert result.ok and "older activity definition" in result.error
