"""pylti1p3, backed by our tables and the shared cache, with replay protection.

- `DbToolConf` answers pylti1p3's registration and deployment look-ups from
  `Platform` rows (issuer + client_id; one issuer may register several tools).
- OIDC state, the issued nonces and launch data go to the cache named by
  LTI_CACHE_ALIAS (the database cache by default, Redis when configured), so
  a login served by one app server and a launch served by another agree.
- pylti1p3 2.0.0 checks that a launch's nonce was issued but never consumes
  it, and after a first launch it accepts the same id_token and state again
  even without the state cookie: a captured launch could be replayed for a
  day. `ToolMessageLaunch.validate()` therefore marks the nonce used with an
  atomic `cache.add` (SET NX on Redis, a unique insert on the database cache)
  after every other check, and refuses a launch whose nonce is already marked.
  Two copies of one launch posted at once: exactly one `add` wins.
"""

from __future__ import annotations

import hashlib

import requests
from django.conf import settings
from django.core.cache import caches
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from lms.lti.models import Platform


def cache_alias() -> str:
    return getattr(settings, "LTI_CACHE_ALIAS", "default")


def launch_data_seconds() -> int:
    """How long an issued nonce, the OIDC state and a launch's data are kept."""
    return getattr(settings, "LTI_LAUNCH_DATA_SECONDS", 3600)


def http_timeout_seconds() -> int:
    # 5 s: a grade delivery makes two calls (token, score) within the outbox's
    # default 10 s per delivery (LMS_OUTBOX_TIMEOUT_SECONDS, which sizes its lease).
    return getattr(settings, "LTI_HTTP_TIMEOUT_SECONDS", 5)


class HttpSession(requests.Session):
    """pylti1p3 calls requests without a timeout: a platform that never answers
    would hold a web worker (key set fetch) or an outbox worker (AGS) forever.
    Redirects are refused: one would turn an AGS POST into a GET elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = "kratom-ce-lti/1"

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", http_timeout_seconds())
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, **kwargs)


def registration_for(platform: Platform) -> Registration:
    """pylti1p3's view of a platform row: its endpoints and our key for it."""
    return (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
        .set_auth_audience(platform.auth_audience or None)
        .set_key_set_url(platform.key_set_url)
        .set_tool_private_key(platform.tool_private_key)
        .set_tool_public_key(platform.tool_public_key_pem)
    )


class DbToolConf(ToolConfAbstract):
    """Registrations from `Platform` rows. Remembers the platform it found, so
    the launch service need not look it up again."""

    def __init__(self) -> None:
        super().__init__()
        self.platform: Platform | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False  # always look up by (iss, client_id): the audience must match too

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def _platform(self, iss: str, client_id: str | None) -> Platform | None:
        rows = Platform.objects.filter(issuer=iss, is_active=True)
        if client_id:
            rows = rows.filter(client_id=client_id)
        found = list(rows[:2])
        # Without a client_id (it is optional at login) the issuer must name one registration.
        return found[0] if len(found) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args, **kwargs) -> Registration | None:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args, **kwargs):
        platform = self._platform(iss, client_id)
        if platform is None:
            return None
        self.platform = platform
        return registration_for(platform)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None, *args, **kwargs):
        platform = self.platform if self.platform and self.platform.issuer == iss else self._platform(iss, client_id)
        if platform is None or deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


def _storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name=cache_alias())


def oidc_login(request, tool_conf: DbToolConf) -> DjangoOIDCLogin:
    storage = _storage()
    login = DjangoOIDCLogin(request, tool_conf, launch_data_storage=storage)
    login.set_launch_data_storage(storage)  # pylti1p3 sets it only when redirecting, after the lifetime
    login.set_launch_data_lifetime(launch_data_seconds())
    return login


def _used_nonce_key(iss: str, nonce: str) -> str:
    return "lti-used-nonce-" + hashlib.sha256(f"{iss}\n{nonce}".encode()).hexdigest()


class ToolMessageLaunch(DjangoMessageLaunch):
    """A launch validated as pylti1p3 does, plus: `exp` and `iat` required, the
    authorised party checked when `aud` lists several clients, and the nonce
    consumed exactly once."""

    def __init__(self, request, tool_config, **kwargs):
        kwargs["launch_data_storage"] = _storage()  # from_cache() passes None
        kwargs["requests_session"] = HttpSession()
        super().__init__(request, tool_config, **kwargs)
        # The platform's key set is fetched once per LTI_JWKS_CACHE_SECONDS, not on every launch.
        self.set_public_key_caching(_storage(), cache_lifetime=getattr(settings, "LTI_JWKS_CACHE_SECONDS", 300))
        self.set_launch_data_lifetime(launch_data_seconds())
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})

    def validate(self) -> ToolMessageLaunch:
        # pylti1p3's own chain, with the nonce consumed after every other check
        # (so a forged token cannot burn a real one) and before anything is saved.
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            self.validate_state()
            self.validate_jwt_format()
            self.validate_nonce()
            self.validate_registration()
            self.validate_azp()
            self.validate_jwt_signature()
            self.validate_deployment()
            self.validate_message()
            self.consume_nonce()
            self.save_launch_data()
        except Exception:
            self._validated = False
            raise
        return self

    def validate_azp(self) -> ToolMessageLaunch:
        body = self._jwt.get("body", {})
        aud = body.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != self.get_client_id():
            raise LtiException("The token names several audiences and we are not its authorised party")
        return self

    def consume_nonce(self) -> ToolMessageLaunch:
        body = self._jwt.get("body", {})
        # Kept as long as the issued nonce: after that a replay fails validate_nonce anyway.
        first_use = caches[cache_alias()].add(
            _used_nonce_key(body["iss"], body["nonce"]), 1, timeout=launch_data_seconds()
        )
        if not first_use:
            raise LtiException("This launch was already used (replayed nonce)")
        return self

    @property
    def platform(self) -> Platform:
        platform = self._tool_config.platform
        assert platform is not None, "validate() first"
        return platform


def restore_launch(request, launch_id: str) -> ToolMessageLaunch:
    """A validated launch saved in the cache (deep linking answers it later). Raises LtiException."""
    tool_conf = DbToolConf()
    launch = ToolMessageLaunch.from_cache(launch_id, request, tool_conf)
    return launch
