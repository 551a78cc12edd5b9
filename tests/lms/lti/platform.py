"""A real LTI 1.3 platform for the tests, built from `lti1p3platform`'s core classes.

Its web adapters are broken on current setuptools, so the HTTP side is ours:
a ThreadingHTTPServer on 127.0.0.1 serves the platform's key set (the tool
fetches it to verify id_tokens), its OAuth2 token endpoint (lti1p3platform's
`get_access_token` verifies the tool's client-assertion JWT against the tool's
published JWKS) and its line items' score endpoints (lti1p3platform's
`AssignmentsGradesService.handle_update_score` checks the bearer token and
scope, then `update_score` keeps the score as received).

The browser part (OIDC login initiation, the auth response, the launch form
POST) is driven in-process through Django's test client:

    url = platform.login_url(sub="u1")            # the platform's login initiation
    auth = client.get(url)                        # the tool answers with an auth request
    form = platform.launch(auth["Location"], ...) # the platform signs the id_token
    client.post(form["launch_url"], {"id_token": ..., "state": ...})
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.exceptions import LtiException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import AssignmentsGradesService

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


class DictRequest(Request):
    """lti1p3platform's request, from plain values (its framework adapters are not usable)."""

    def build_metadata(self, request: dict) -> TRequest:
        return {
            "method": request.get("method", "GET"),
            "form_data": request.get("form_data", {}),
            "get_data": request.get("get_data", {}),
            "headers": request.get("headers", {}),
            "content_type": request.get("content_type"),
            "path": request.get("path", "/"),
            "json": request.get("json"),
        }


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs) -> Registration:
        return self._registration


class PlatformOIDCLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class PlatformLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data, **kwargs):
        return launch_data  # the auto-submitted form's fields: id_token, state, launch_url


class PlatformAgs(AssignmentsGradesService):
    """The gradebook: scores as lti1p3platform hands them over, per line item."""

    def __init__(self, *args, gradebook: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.gradebook = gradebook

    def update_score(self, line_item_id, score):
        if line_item_id not in self.gradebook:
            from lti1p3platform.exceptions import LineItemNotFoundException

            raise LineItemNotFoundException(line_item_id)
        self.gradebook[line_item_id].append(score)
        return UpdateScoreStatus.SUCCESS

    def find_lineitems(self, **kwargs):
        raise NotImplementedError

    def find_lineitem(self, line_item_id):
        raise NotImplementedError

    def create_lineitem(self, creation_data):
        raise NotImplementedError

    def update_lineitem(self, update_data):
        raise NotImplementedError

    def delete_lineitem(self, line_item_id):
        raise NotImplementedError

    def get_results(self, line_item_id, **kwargs):
        raise NotImplementedError


class TestPlatform:
    """One LMS with one registration of our tool."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, *, tool_base: str = "http://testserver", client_id: str = "ce-tool", deployment_id: str = "1",
                 host: str = "127.0.0.1"):
        self.private_pem, self.public_pem = rsa_pem_pair()
        self.gradebook: dict[str, list[dict]] = {"1": [], "2": []}
        self.token_requests: list[dict] = []
        self.score_requests: list[dict] = []
        self.down = False
        # The browser side served over HTTP (tests/lms/lti/test_browser.py): what the
        # next GET /auth launches, and the content items posted back to /deep_link_return.
        self.next_launch: dict = {}
        self.deep_link_items: list[dict] = []
        # Pages of the LMS itself (path: HTML), e.g. a course page that frames the tool.
        self.pages: dict[str, str] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # `host` names the LMS's site in a browser: "localhost" makes the tool at 127.0.0.1 cross-site.
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self.issuer = self.base
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.tool_base = tool_base
        self.registration = (
            Registration()
            .set_iss(self.issuer)
            .set_client_id(client_id)
            .set_deployment_id(deployment_id)
            .set_oidc_login_url(f"{tool_base}/lti/login/")
            .set_launch_url(f"{tool_base}/lti/launch/")
            .set_deeplink_launch_url(f"{tool_base}/lti/launch/")
            .set_platform_private_key(self.private_pem)
            .set_platform_public_key(self.public_pem)
        )
        self.conf = PlatformConf(registration=self.registration)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- registration, as an admin would type it into the tool ------------------------

    def tool_registration(self) -> dict:
        return {
            "name": "Test LMS",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "auth_login_url": f"{self.base}/auth",
            "auth_token_url": f"{self.base}/token",
            "key_set_url": f"{self.base}/jwks",
            "deployment_ids": [self.deployment_id],
        }

    def trust_tool_keys(self, jwks: dict) -> None:
        """The tool's public keys, as the platform read them from the tool's JWKS URL."""
        self.registration.set_tool_key_set(jwks)

    @property
    def lineitem_url(self) -> str:
        return f"{self.base}/lineitems/1"

    # --- the browser side ------------------------------------------------------------------

    def login_url(self, *, sub: str, hint: str = "resource-link-1") -> str:
        login = PlatformOIDCLogin(None, self.conf)
        login.set_lti_message_hint(hint=hint)
        return login.initiate_login(sub)

    def _launch_from(self, auth_request_url: str) -> PlatformLaunch:
        parts = urlsplit(auth_request_url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{self.base}/auth", auth_request_url
        params = dict(parse_qsl(parts.query))
        return PlatformLaunch(DictRequest({"get_data": params}), self.conf)

    def resource_launch(self, auth_request_url: str, *, sub: str, custom: dict | None = None, roles=(LEARNER,),
                        name: str = "Ada Learner", email: str | None = "ada@lms.example", link_id: str = "rl-1",
                        ags: bool = True, lineitem: str = "1") -> dict:
        launch = self._launch_from(auth_request_url)
        launch.set_user_data(sub, list(roles), full_name=name, email_address=email)
        launch.set_resource_link_claim(link_id, title="Kratom module")
        launch.set_launch_context_claim("ctx-1", context_title="Pharmacology 101")
        if custom is not None:
            launch.set_custom_parameters_claim(custom)
        if ags:
            launch.set_ags(lineitems_url=f"{self.base}/lineitems", lineitem_url=f"{self.base}/lineitems/{lineitem}",
                           allow_creating_lineitems=False)
        return launch.lti_launch()

    def deep_link_launch(self, auth_request_url: str, *, sub: str, roles=(INSTRUCTOR,)) -> dict:
        launch = self._launch_from(auth_request_url)
        launch.set_user_data(sub, list(roles), full_name="Ian Instructor")
        launch.set_dl(f"{self.base}/deep_link_return", title="Week 3", accept_types={"ltiResourceLink"},
                      extra_data={"placement": "week-3"})
        return launch.lti_launch()

    def auth_response_page(self, auth_request_url: str) -> str:
        """The platform's answer to the tool's auth request in a browser: a form
        that posts the signed id_token to the tool, as `next_launch` describes."""
        spec = dict(self.next_launch)
        kind, sub = spec.pop("kind"), spec.pop("sub")
        if kind == "deep_link":
            form = self.deep_link_launch(auth_request_url, sub=sub, **spec)
        else:
            form = self.resource_launch(auth_request_url, sub=sub, **spec)
        return (
            '<!doctype html><html lang="en"><title>LMS</title>'
            f'<form method="post" action="{form["launch_url"]}">'
            f'<input type="hidden" name="id_token" value="{form["id_token"]}">'
            f'<input type="hidden" name="state" value="{form["state"]}"></form>'
            "<script>document.forms[0].submit()</script></html>"
        )

    def resign(self, id_token: str, **changes) -> str:
        """The same launch with some claims changed, signed again with the platform key."""
        body = jwt.decode(id_token, options={"verify_signature": False})
        body.update(changes)
        for name in [k for k, v in changes.items() if v is None]:
            body.pop(name)
        return self.registration.platform_encode_and_sign(body)

    def accept_deep_link_response(self, jwt_value: str) -> list[dict]:
        """lti1p3platform's check of the tool's LtiDeepLinkingResponse; returns its content items."""
        return self.conf.validate_deeplinking_resp({"JWT": jwt_value})

    # --- the server side -----------------------------------------------------------------

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body=None, content_type="application/json"):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_html(self, html: str):
                data = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/jwks":
                    return self._send(200, {"keys": platform.registration.get_jwks()})
                if self.path in platform.pages:
                    return self._send_html(platform.pages[self.path])
                if self.path.startswith("/auth?"):
                    return self._send_html(platform.auth_response_page(f"{platform.base}{self.path}"))
                return self._send(404)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if platform.down:
                    return self._send(503)
                if self.path == "/deep_link_return":
                    items = platform.accept_deep_link_response(dict(parse_qsl(body.decode()))["JWT"])
                    platform.deep_link_items.extend(items)
                    return self._send_html("<!doctype html><title>LMS</title><h1>Content placed</h1>")
                if self.path == "/token":
                    form = dict(parse_qsl(body.decode()))
                    with platform.lock:
                        platform.token_requests.append(form)
                    try:
                        claims = platform.conf.tool_validate_and_decode(form["client_assertion"])
                        # lti1p3platform skips these checks of the assertion; a platform makes them.
                        assert claims["iss"] == claims["sub"] == platform.client_id
                        assert claims["aud"] == f"{platform.base}/token"
                        assert claims["exp"] > time.time()
                        return self._send(200, dict(platform.conf.get_access_token(form)))
                    except (LtiException, AssertionError, KeyError, jwt.PyJWTError) as exc:
                        return self._send(401, {"error": "invalid_client", "error_description": str(exc)})
                if self.path.startswith("/lineitems/") and self.path.endswith("/scores"):
                    line_item_id = self.path.split("/")[2]
                    request = DictRequest({
                        "method": "POST",
                        "headers": dict(self.headers.items()),
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    })
                    with platform.lock:
                        platform.score_requests.append({
                            "content_type": self.headers.get("Content-Type"), "json": json.loads(body)})
                        service = PlatformAgs(request, platform.conf, f"{platform.base}/lineitems",
                                              platform.lineitem_url, allow_creating_lineitems=False,
                                              gradebook=platform.gradebook)
                        try:
                            response = service.handle_resp(service.handle_update_score, line_item_id=line_item_id)
                        except (LtiException, jwt.PyJWTError) as exc:  # a token it cannot verify
                            return self._send(401, {"error": str(exc)})
                    return self._send(response.code, {"status": response.message})
                return self._send(404)

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> TestPlatform:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
