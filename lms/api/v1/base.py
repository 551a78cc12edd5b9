"""The API's policy, stated once: every v1 view inherits `ApiPolicy`.

- Authentication: an integration token (`Authorization: Bearer ce_…`) for
  systems, the browser session (with CSRF) for learners.
- Permission: signed in, and then `ScopePermission`: a token needs the
  view's `required_scope`; a session may call only views marked
  `session_allowed`. A token sees only its organisation's learners; that is
  enforced by the selectors, which take the token's organisation.
- Throttles: per token (`LMS_API_TOKEN_RATE`) and per learner
  (`LMS_API_LEARNER_RATE`). The cache is per process (LocMem) unless
  CACHES says otherwise, so the limit is per worker process.
- Feeds page with `FeedCursorPagination`.
- `validate_input()` parses a request with the view's InputSerializer or raises a 400.
- One error shape, `{"error": {"code", "message", "fields"}}`, from
  `api_exception_handler`; bad input is a 4xx, never a 500. The domain's
  refusals map here too: quizzes' refusals (AttemptClosed, AttemptNotAllowed)
  are 409s with the `code` they carry, and credits' ClaimRefused a 409 too.
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.dateparse import parse_datetime
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.utils import encoders
from rest_framework.versioning import NamespaceVersioning
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from accounts.throttling import window_count
from credits.services import ClaimRefused
from lms import services, token_cache
from lms.models import IntegrationToken
from quizzes.services import QuizRefusal

# --- authentication --------------------------------------------------------------------


class IntegrationPrincipal:
    """request.user for a token request: authenticated, not a person, no permissions."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True
    pk = None
    id = None

    def __init__(self, token: IntegrationToken):
        self.token = token

    def __str__(self) -> str:
        return f"token {self.token.lookup} of {self.token.organisation.slug}"

    def has_perm(self, *args, **kwargs) -> bool:
        return False


class IntegrationTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer ce_<lookup>_<secret>`.

    One query, plus one a minute for last use; none while the token is in the
    shared cache (lms/token_cache.py).
    """

    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <token>'.")
        token, cached = token_cache.authenticate(header[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed("The token is invalid or has been revoked.")
        if not cached:
            services.integration_token_touch(token=token)
            token_cache.remember(token)
        return IntegrationPrincipal(token), token

    def authenticate_header(self, request) -> str:
        # Makes an unauthenticated request a 401 (with this header), not a 403.
        return 'Bearer realm="api"'


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "lms.api.v1.base.IntegrationTokenAuthentication"
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration token (ce_…), created by staff, scoped to one organisation.",
        }


def request_token(request) -> IntegrationToken | None:
    return request.auth if isinstance(request.auth, IntegrationToken) else None


class ScopePermission(BasePermission):
    """A token needs the view's scope; a session needs a view open to learners."""

    def has_permission(self, request, view) -> bool:
        token = request_token(request)
        if token is None:
            if getattr(view, "session_allowed", False):
                return True
            self.message = "This endpoint is for integration tokens, not signed-in learners."
            return False
        scope = getattr(view, "required_scope", None)
        if scope is None:
            self.message = "This endpoint is for signed-in learners, not integration tokens."
            return False
        if not token.has_scope(scope):
            self.message = f"This token lacks the '{scope}' scope."
            self.code = "missing_scope"  # DRF passes it to PermissionDenied: no message matching
            return False
        return True


# --- throttling ------------------------------------------------------------------------


class FixedWindowThrottle(SimpleRateThrottle):
    """A counter per key and time window: one `incr` per request (an `add` opens each window).

    DRF's SimpleRateThrottle keeps every request's timestamp in the cache and
    reads, trims and writes the whole list back on each request: its cost
    grows with the rate (issue #8). A fixed window costs the same at any rate;
    the price is that a client may send up to twice the rate across a window
    boundary, which is fine for a load limit (it is not a security control).
    """

    @property
    def cache(self):
        """The shared cache when there is one (LMS_CACHE_URL): several app servers count one limit."""
        return caches[settings.LMS_THROTTLE_CACHE_ALIAS]

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{self.key}:{window}"
        self.window_end = (window + 1) * self.duration
        return window_count(self.cache, key, self.duration) <= self.num_requests

    def wait(self) -> float:
        return max(self.window_end - self.timer(), 1.0)


class TokenRateThrottle(FixedWindowThrottle):
    """Per integration token, whoever shares it."""

    scope = "lms_token"

    def get_rate(self) -> str:
        return settings.LMS_API_TOKEN_RATE

    def get_cache_key(self, request, view) -> str | None:
        token = request_token(request)
        return f"throttle_lms_token_{token.pk}" if token else None


class LearnerRateThrottle(FixedWindowThrottle):
    """Per signed-in learner."""

    scope = "lms_learner"

    def get_rate(self) -> str:
        return settings.LMS_API_LEARNER_RATE

    def get_cache_key(self, request, view) -> str | None:
        if request_token(request) or not request.user.is_authenticated:
            return None
        return f"throttle_lms_learner_{request.user.pk}"


# --- pagination ------------------------------------------------------------------------


class FeedCursorPagination(CursorPagination):
    """Stable pages over a feed that grows while it is read; a bad cursor is a 400."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("updated_at", "pk")

    def decode_cursor(self, request):
        invalid = exceptions.ValidationError({"cursor": ["This cursor is not valid; start again without it."]})
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None
        # Every feed is ordered by a timestamp first: a position that is not
        # one was not made here.
        if cursor is not None and cursor.position is not None and not _is_timestamp(cursor.position):
            raise invalid
        return cursor


def _is_timestamp(text: str) -> bool:
    try:
        return parse_datetime(text) is not None
    except ValueError:  # well formed, but not a date (month 13)
        return False


# --- errors ----------------------------------------------------------------------------


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. invalid, not_found, missing_scope.")
    message = serializers.CharField(help_text="What went wrong and what to do, for a person.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per input field (or query parameter), its problems. Empty unless code is invalid "
        "or answer_required.",
    )
    available_at = serializers.DateTimeField(
        required=False,
        help_text="With wait_required or recheck_not_open: when a new attempt may start.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def _error(
    status: int, code: str, message: str, fields: dict | None = None, headers=None, available_at=None
) -> Response:
    body = {"code": code, "message": message, "fields": fields or {}}
    if available_at is not None:
        body["available_at"] = serializers.DateTimeField().to_representation(available_at)
    return Response({"error": body}, status=status, headers=headers)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub.0": ["message", ...]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and all(not isinstance(d, dict | list) for d in detail):
        return {prefix or "non_field_errors": [str(d) for d in detail]}
    if isinstance(detail, list):
        out = {}
        for index, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc, context):
    """Every error as {"error": {"code", "message", "fields"}} with the right status.

    Unknown exceptions are left to Django (a 500): they are bugs, and are
    logged as such, never a client's fault.
    """
    if isinstance(exc, services.Conflict):
        set_rollback()
        return _error(409, exc.code, exc.message)
    if isinstance(exc, QuizRefusal):
        # AttemptClosed and AttemptNotAllowed carry their stable code (quizzes.services.REFUSAL_CODES).
        set_rollback()
        return _error(409, exc.code, exc.message, available_at=exc.available_at)
    if isinstance(exc, ClaimRefused):
        set_rollback()
        code = "already_claimed" if exc.existing is not None else "claim_refused"
        return _error(409, code, exc.reason)
    if isinstance(exc, IntegrityError):
        # A concurrent request won a race on a unique constraint; a retry sees its result.
        set_rollback()
        return _error(409, "conflict", "A concurrent request changed the same record; retry the request.")
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    elif isinstance(exc, ObjectDoesNotExist | Http404):
        exc = exceptions.NotFound("Not found, or not visible to you.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        names = ", ".join(sorted(fields))
        return _error(400, "invalid", f"Correct these fields and send again: {names}.", fields, headers)
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), exc.default_code)
    message = str(exc.detail) if not isinstance(exc.detail, list | dict) else "The request failed."
    if isinstance(exc, exceptions.PermissionDenied) and getattr(exc.detail, "code", None) == "missing_scope":
        code = "missing_scope"
    return _error(response.status_code, code, message, None, headers)


# --- schema ----------------------------------------------------------------------------


class ApiAutoSchema(AutoSchema):
    """Documents the error responses every operation can give, in the one error shape."""

    def get_serializer_name(self, serializer, direction) -> str:
        # A view's nested InputSerializer/OutputSerializer is named after the view
        # (EnrolmentSyncApi.InputSerializer -> EnrolmentSyncInput), so names never clash.
        owner, _, name = type(serializer).__qualname__.rpartition(".")
        if owner and name in ("InputSerializer", "OutputSerializer"):
            return owner.removesuffix("Api") + name.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "415"]
        for code in codes:
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses


class RenderedJSON(bytes):
    """A response body already rendered by `ApiJSONRenderer` (e.g. a cached, immutable payload)."""


class ApiJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, encoding with orjson; a `RenderedJSON` body is sent as it is.

    The bytes are DRF's: compact, UTF-8, U+2028 and U+2029 escaped, and every
    type orjson does not write as DRF does (dates and times, decimals, lazy
    strings, querysets...) handed to DRF's own encoder.
    tests/lms/test_api_renderer.py holds the two to the same bytes. The one
    difference: orjson writes a float's exponent without "+" (1e16, where
    Python writes 1e+16), and NaN or infinity as null; the API serves no such
    floats. DRF's `json.dumps` took
    a quarter of a millisecond for a 55 kB certificate feed page, orjson a
    twentieth of that (issue #8). Render once with `render_json(data)`, keep
    the bytes, return `Response(those bytes)`: no encoding per request at all.
    """

    _default = staticmethod(encoders.JSONEncoder().default)
    _options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, RenderedJSON):
            return bytes(data)
        if data is None or not self.compact or self.ensure_ascii or self.get_indent(
            accepted_media_type or "", renderer_context or {}
        ) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=self._default, option=self._options)
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits, which json writes
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:  # as DRF: safe inside a <script>
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body


def render_json(data) -> RenderedJSON:
    return RenderedJSON(ApiJSONRenderer().render(data))


class ApiVersioning(NamespaceVersioning):
    """The version is the URL namespace: /api/v1/ is `v1`."""

    allowed_versions = ("v1",)
    default_version = "v1"


# --- the policy ------------------------------------------------------------------------


class ApiPolicy:
    """Mixed into every v1 view, before APIView/GenericViewSet."""

    authentication_classes = [IntegrationTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, ScopePermission]
    throttle_classes = [TokenRateThrottle, LearnerRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [ApiJSONRenderer]
    versioning_class = ApiVersioning
    schema = ApiAutoSchema()
    required_scope: str | None = None  # the token scope this view needs; None: tokens may not call it
    session_allowed = False  # whether a signed-in learner may call it

    InputSerializer: type[serializers.Serializer] | None = None

    def get_exception_handler(self):
        return api_exception_handler

    def validate_input(self, request, serializer_class=None, data=None) -> dict:
        """The request body (or `data`, e.g. query parameters) validated, or a 400."""
        serializer = (serializer_class or self.InputSerializer)(data=request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def organisation(self):
        return request_token(self.request).organisation
