"""LTI endpoints: OIDC login initiation, launch, JWKS, deep-linking response.

The platform posts cross-site, from its own origin, so the POST endpoints are
CSRF-exempt: the signed id_token, its state cookie and its single-use nonce
do the CSRF token's job (and the deep-linking answer carries its unguessable,
single-use launch id). These pages render inside the LMS's iframe, so they
are exempt from X-Frame-Options and their CSP `frame-ancestors` names the
registered origins of the platform concerned, and nothing else; a launch marks
the session so that the pages after it may be framed too (middleware.py).

A browser that refuses cookies in the iframe loses the OIDC state cookie
between login and launch. The launch then shows a page with an "Open in a new
window" link that restarts the login from the platform's own parameters (kept
in the shared cache under the state, five minutes), instead of a bare refusal.
"""

from __future__ import annotations

import hashlib
import logging
from http import HTTPStatus
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from csp.decorators import csp_update
from django.contrib.auth import login
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.lineitem import LineItem as Pylti1p3LineItem

from accounts.backends import BACKEND_PATH
from lms.lti import selectors, services, tool
from lms.lti.middleware import SESSION_KEY, STATE_COOKIE_PREFIX, framed_response
from lms.lti.models import Platform

logger = logging.getLogger(__name__)

INSTRUCTOR_MESSAGE = "Only an instructor or course designer can choose what to place."


# What the platform sent to start a login, so that a launch whose state cookie the
# browser refused can offer the same login again in a window of its own.
LOGIN_PARAMS = ("iss", "login_hint", "target_link_uri", "lti_message_hint", "lti_deployment_id", "client_id")
LOGIN_PARAMS_SECONDS = 5 * 60  # as long as pylti1p3's state cookie
NEW_WINDOW_PARAM = "lti1p3_new_window"


def _framed_by(response: HttpResponse, platform: Platform | None) -> HttpResponse:
    """Let only `platform`'s registered origins frame this response (per request, so
    django-csp's csp_replace is applied here rather than as a static decorator)."""
    return framed_response(response, platform.frame_origins if platform else [])


def _login_params_key(state: str) -> str:
    return "lti-login-params-" + hashlib.sha256(state.encode()).hexdigest()


def _login_params_remember(params, auth_request_url: str) -> None:
    state = dict(parse_qsl(urlsplit(auth_request_url).query)).get("state")
    if not state:
        return
    kept = {name: params[name] for name in LOGIN_PARAMS if params.get(name)}
    kept[NEW_WINDOW_PARAM] = "1" if params.get(NEW_WINDOW_PARAM) else ""
    caches[tool.cache_alias()].set(_login_params_key(state), kept, timeout=LOGIN_PARAMS_SECONDS)


def _cookies_refused_page(request: HttpRequest) -> HttpResponse | None:
    """The "open in a new window" page, if this launch lost its state cookie; else None.

    The state names a login we started (its parameters are in the shared cache);
    without its cookie the browser dropped what we set in the login response,
    which is what a browser refusing cookies in a cross-site iframe does.
    """
    state = request.POST.get("state", "")
    if not state or request.COOKIES.get(f"{STATE_COOKIE_PREFIX}{state}"):
        return None
    params = caches[tool.cache_alias()].get(_login_params_key(state))
    if not params:
        return None
    claimed = selectors.platform_claimed_get(iss=params.get("iss"), client_id=params.get("client_id"))
    retry = {name: value for name, value in params.items() if name != NEW_WINDOW_PARAM and value}
    context = {
        "in_new_window": bool(params.get(NEW_WINDOW_PARAM)),
        "new_window_url": f"{reverse('lti:login')}?{urlencode({**retry, NEW_WINDOW_PARAM: '1'})}",
        "host": request.get_host(),
    }
    # 403: the launch is not accepted (nothing written, nobody signed in); the page says what to do.
    response = render(request, "lti/cookies_refused.html", context, status=HTTPStatus.FORBIDDEN)
    return _framed_by(response, claimed)


def _error(request: HttpRequest, message: str, *, status: int, platform: Platform | None = None) -> HttpResponse:
    response = render(request, "lti/launch_error.html", {"message": message}, status=status)
    return _framed_by(response, platform)


def _unverified_claims(request: HttpRequest) -> dict:
    try:
        return jwt.decode(request.POST.get("id_token", ""), options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def oidc_login_initiate(request: HttpRequest) -> HttpResponse:
    """Third-party initiated login: answer the platform with an OIDC auth request."""
    params = request.POST if request.method == "POST" else request.GET
    claimed = selectors.platform_claimed_get(iss=params.get("iss"), client_id=params.get("client_id"))
    try:
        response = tool.oidc_login(request, tool.DbToolConf()).redirect(
            request.build_absolute_uri(reverse("lti:launch"))
        )
    except (OIDCException, LtiException) as exc:
        return _error(request, f"This LMS link could not start a sign-in: {exc}", status=HTTPStatus.BAD_REQUEST,
                      platform=claimed)
    _login_params_remember(params, response["Location"])
    return _framed_by(response, claimed)


@csrf_exempt
@xframe_options_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """Verify the id_token; sign the learner in and open the placed page, or
    show an instructor the deep-linking page. An invalid launch gets an
    error page (4xx) and writes nothing."""
    tool_conf = tool.DbToolConf()
    try:
        message = tool.ToolMessageLaunch(request, tool_conf)
        message.validate()
    except (LtiException, OIDCException) as exc:
        cookies_refused = _cookies_refused_page(request)
        if cookies_refused is not None:
            logger.info("LTI launch without its state cookie: offered a new window")
            return cookies_refused
        claims = _unverified_claims(request)
        # Operators need to see refused launches (misconfiguration or an attack); no token in the log.
        logger.warning("LTI launch refused (iss=%r aud=%r): %s", claims.get("iss"), claims.get("aud"), exc)
        aud = claims.get("aud")
        claimed = selectors.platform_claimed_get(
            iss=claims.get("iss"), client_id=aud[0] if isinstance(aud, list) and aud else aud
        )
        return _error(request, f"This launch could not be verified: {exc}", status=HTTPStatus.FORBIDDEN,
                      platform=claimed)
    platform = message.platform
    claims = message.get_launch_data()
    # Spent with the nonce: a replay of this launch is refused as such, not offered a new window.
    caches[tool.cache_alias()].delete(_login_params_key(request.POST.get("state", "")))
    if message.is_deep_link_launch():
        if not (message.check_teacher_access() or message.check_designer_access() or message.check_staff_access()):
            return _error(request, INSTRUCTOR_MESSAGE, status=HTTPStatus.FORBIDDEN, platform=platform)
        response = render(request, "lti/deep_link_select.html", {
            "launch_id": message.get_launch_id(),
            "courses": selectors.placement_options_list(),
            "dl_settings": claims.get("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings", {}),
        })
        return _framed_by(response, platform)
    if not message.is_resource_launch():
        return _error(request, "This kind of LTI message is not supported.", status=HTTPStatus.BAD_REQUEST,
                      platform=platform)
    try:
        result = services.launch_accept(platform=platform, claims=claims)
    except services.LaunchTargetError as exc:
        return _error(request, str(exc), status=HTTPStatus.BAD_REQUEST, platform=platform)
    if not result.user.is_active:
        return _error(request, "Your account here is disabled. Contact the course provider.",
                      status=HTTPStatus.FORBIDDEN, platform=platform)
    login(request, result.user, backend=BACKEND_PATH)
    # After login(), which may flush the session: the pages after this one may be
    # framed by this platform and get cross-site cookies (middleware.py).
    request.session[SESSION_KEY] = platform.pk
    return _framed_by(redirect(result.redirect_url), platform)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """Our public keys, which platforms use to verify our deep-linking and token-request JWTs."""
    return JsonResponse({"keys": selectors.platform_jwks_list()})


def _choice_custom(choice: str) -> dict[str, str]:
    """"course:<slug>", "lesson:<course>/<lesson>" or "quiz:<course>/<kind>" as custom parameters."""
    kind, _, value = choice.partition(":")
    course, _, rest = value.partition("/")
    if kind == "course" and course and not rest:
        return {"course": course}
    if kind == "lesson" and course and rest:
        return {"course": course, "lesson": rest}
    if kind == "quiz" and course and rest:
        return {"course": course, "quiz": rest}
    return {}


@csrf_exempt
@xframe_options_exempt
@require_POST
def deep_link_respond(request: HttpRequest) -> HttpResponse:
    """The instructor's choice, returned to the platform as a signed LtiDeepLinkingResponse."""
    launch_id = request.POST.get("launch_id", "")
    try:
        message = tool.restore_launch(request, launch_id)
    except LtiException:
        return _error(request, "This selection has expired. Start again from your LMS.", status=HTTPStatus.BAD_REQUEST)
    platform = message.platform
    if not message.is_deep_link_launch():
        return _error(request, "This launch was not a deep-linking request.", status=HTTPStatus.BAD_REQUEST,
                      platform=platform)
    try:
        target = services.target_from_custom(_choice_custom(request.POST.get("choice", "")))
    except services.LaunchTargetError as exc:
        return _error(request, str(exc), status=HTTPStatus.BAD_REQUEST, platform=platform)
    if target is None:
        return _error(request, "Choose a course, lesson or quiz to place.", status=HTTPStatus.BAD_REQUEST,
                      platform=platform)
    # One answer per deep-linking launch: the launch id is the capability, so it is spent here.
    if not caches[tool.cache_alias()].add(f"lti-dl-answered-{launch_id}", 1, timeout=tool.launch_data_seconds()):
        return _error(request, "This selection was already sent.", status=HTTPStatus.CONFLICT, platform=platform)
    deep_link = message.get_deep_link()
    resource = (
        DeepLinkResource()
        .set_url(request.build_absolute_uri(reverse("lti:launch")))
        .set_title(_target_title(target))
        .set_custom_params(target.as_custom())
    )
    if target.quiz_kind == "posttest" or (target.lesson is None and not target.quiz_kind):
        resource.set_lineitem(
            Pylti1p3LineItem()
            .set_score_maximum(100)
            .set_label(f"{target.course.title}: post-test")
            .set_resource_id(target.course.slug)
            .set_tag("posttest")
        )
    return_url = message.get_launch_data()[
        "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]["deep_link_return_url"]
    response = render(request, "lti/deep_link_return.html", {
        "return_url": return_url,
        "jwt": deep_link.get_response_jwt([resource]),
        "title": _target_title(target),
    })
    # The answer form posts to the platform (signed claim), which `form-action 'self'` would block.
    parts = urlsplit(return_url)
    response = csp_update({"form-action": [f"{parts.scheme}://{parts.netloc}"]})(lambda: response)()
    return _framed_by(response, platform)


def _target_title(target: services.Target) -> str:
    if target.lesson is not None:
        return f"{target.course.title}: {target.lesson.title}"
    if target.quiz_kind:
        return f"{target.course.title}: {'post-test' if target.quiz_kind == 'posttest' else 'pre-test'}"
    return target.course.title
