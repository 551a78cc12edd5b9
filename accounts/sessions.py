"""The session engine with a shared Redis: a signed-in request reads its session and its user in one round trip.

With LMS_CACHE_URL set, a signed-in request reads its session from Redis
(Django's cached_db) and then its user (accounts/backends.py): two round trips,
which a profile of the lesson page put at about a quarter of its time. This
engine makes them one. Beside each signed-in session it keeps a hint (session
key -> user id), and a short server-side script reads the session, the hint and
the user entry the hint names, in one call.

The hint only chooses what to fetch. The user id that counts is still the
session's own: the prefetched user is used only when the hint agrees with it,
and only by the first `get_user` of the same request (a context variable, set
afresh by every session load). Everything the session check relies on is
unchanged: Django still compares the session's hash with the user's password
hash, and the user entry is the same one, dropped on every save of the user.
A missing or wrong hint costs one write and the old two reads; another cache
backend, a key function that is not a plain prefix, or a failing script means
Django's cached_db behaviour exactly; so do async views (`aload`), which the
project's WSGI server never runs, except that an async delete also drops the hint.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends import cached_db

logger = logging.getLogger(__name__)

HINT_PREFIX = "accounts:session-user:"

# KEYS[1] the session entry, KEYS[2] its hint; ARGV[1] the user entries' key prefix.
# Only reads: it changes nothing, so a failed call leaves nothing half done.
_SCRIPT = """
local session = redis.call('GET', KEYS[1])
if not session then return {false, false, false} end
local uid = redis.call('GET', KEYS[2])
local user = false
if uid then user = redis.call('GET', ARGV[1] .. uid) end
return {session, uid, user}
"""


class _FastPath:
    """What one django-redis cache needs for the combined read: key building, decoding, the script."""

    def __init__(self, cache, user_prefix: str):
        self.cache = cache
        self.user_prefix = user_prefix
        self.script = cache.client.get_client(write=True).register_script(_SCRIPT)

    def key(self, key: str) -> str:
        return str(self.cache.client.make_key(key))

    def decode(self, raw) -> Any:
        return None if raw is None else self.cache.client.decode(raw)

    def read(self, session_cache_key: str, session_key: str):
        client = self.cache.client.get_client(write=True)
        return self.script(
            keys=[self.key(session_cache_key), self.key(HINT_PREFIX + session_key)],
            args=[self.user_prefix],
            client=client,
        )

    def remember(self, session_key: str, user_id: str) -> None:
        self.cache.client.get_client(write=True).set(
            self.key(HINT_PREFIX + session_key), user_id, ex=settings.SESSION_COOKIE_AGE
        )

    def forget(self, session_key: str) -> None:
        self.cache.client.get_client(write=True).delete(self.key(HINT_PREFIX + session_key))


def _fast_path(cache) -> _FastPath | None:
    """The combined read for this cache, or None where it does not apply (built once per cache object)."""
    found = getattr(cache, "_accounts_fast_path", False)
    if found is not False:
        return found
    found = None
    try:
        from django_redis.cache import RedisCache
        from django_redis.client import DefaultClient

        from accounts.backends import user_cache_key

        if (
            isinstance(cache, RedisCache)
            and type(cache.client) is DefaultClient
            and settings.ACCOUNTS_USER_CACHE_ALIAS == settings.SESSION_CACHE_ALIAS
        ):
            prefix = str(cache.client.make_key(user_cache_key("")))
            # The script appends the id to the prefix: only right when the key function does the same.
            if str(cache.client.make_key(user_cache_key("12"))) == prefix + "12":
                found = _FastPath(cache, prefix)
    except Exception:
        logger.warning("combined session and user read unavailable", exc_info=True)
    cache._accounts_fast_path = found
    return found


@dataclass(frozen=True)
class Prefetched:
    """The user read with this request's session: `raw` is its cache entry (None: not cached) if `hinted`."""

    fast: _FastPath
    session_key: str
    user_id: str
    hinted: bool
    raw: Any

    def user(self):
        return self.fast.decode(self.raw)

    def remember(self) -> None:
        """Write the hint, so that this session's next request reads its user in the same round trip."""
        try:
            self.fast.remember(self.session_key, self.user_id)
        except Exception:
            logger.warning("session hint not written", exc_info=True)


_prefetched: contextvars.ContextVar[Prefetched | None] = contextvars.ContextVar("accounts_prefetched", default=None)


def take_prefetched(user_id) -> Prefetched | None:
    """The prefetched user for `user_id`, once: the first get_user after the session load takes it."""
    found = _prefetched.get()
    if found is None or found.user_id != str(user_id):
        return None
    _prefetched.set(None)
    return found


class SessionStore(cached_db.SessionStore):
    def load(self):
        _prefetched.set(None)  # never a previous request's
        fast = _fast_path(self._cache)
        if fast is None:
            return super().load()
        try:
            raw_session, raw_uid, raw_user = fast.read(self.cache_key, self.session_key)
        except Exception:
            logger.warning("combined session read failed; reading the session alone", exc_info=True)
            return super().load()
        if raw_session is None:
            return super().load()  # not in the cache: the database, as cached_db does
        try:
            data = fast.decode(raw_session)
        except Exception:  # an entry that does not decode is a miss, as cached_db treats it
            return super().load()
        user_id = data.get(SESSION_KEY)
        if user_id is not None:
            if isinstance(raw_uid, bytes):
                raw_uid = raw_uid.decode()
            hinted = raw_uid == str(user_id)
            _prefetched.set(Prefetched(fast, self.session_key, str(user_id), hinted, raw_user if hinted else None))
        return data

    async def aload(self):
        # Async views read the session and the user apart, as cached_db does; nothing prefetched applies.
        _prefetched.set(None)
        return await super().aload()

    def delete(self, session_key=None):
        key = session_key or self.session_key
        super().delete(session_key)
        self._forget_hint(key)

    async def adelete(self, session_key=None):
        key = session_key or self.session_key
        await super().adelete(session_key)
        await sync_to_async(self._forget_hint)(key)

    def _forget_hint(self, session_key) -> None:
        fast = _fast_path(self._cache)
        if fast is not None and session_key:
            try:
                fast.forget(session_key)
            except Exception:
                logger.warning("session hint not deleted; it expires with the session", exc_info=True)
