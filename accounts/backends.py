"""The authentication backend: Django's ModelBackend, with the signed-in user read from the shared cache.

Every signed-in request loads its user (`django.contrib.auth.get_user` calls
`get_user(user_id)`): one query per page and API call, about a fifth of a
lesson page's cost. With a cache that every app server shares
(`ACCOUNTS_USER_CACHE_ALIAS`, the Redis of `LMS_CACHE_URL`), the user is read
from it instead. A per-process cache is never used: a user deactivated or
re-passworded through one server would stay signed in on the others.

The entry is dropped whenever the user is saved or deleted (signals below,
at once and again after the transaction commits, so a read between the two
cannot put the old row back for good) and expires after
ACCOUNTS_USER_CACHE_SECONDS anyway, which bounds what a bulk
`User.objects.update()` (no signals) can leave behind. What the session
check relies on stays exact: Django compares the session's hash with the
cached user's password hash, and a password change saves the user, which
drops the entry. An unreachable cache is a miss, never an error.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.db import transaction

from accounts.sessions import take_prefetched

logger = logging.getLogger(__name__)

# The path sessions record for users signed in by this project's own views (login(..., backend=)).
BACKEND_PATH = "accounts.backends.CachedModelBackend"


def _cache():
    alias = getattr(settings, "ACCOUNTS_USER_CACHE_ALIAS", None)
    return caches[alias] if alias else None


def user_cache_key(user_id) -> str:
    return f"accounts:user:{user_id}"


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        cache = _cache()
        if cache is None:
            return super().get_user(user_id)
        # Read with the session in the same round trip when the session engine could (accounts/sessions.py).
        prefetched = take_prefetched(user_id)
        if prefetched is not None and prefetched.hinted:
            try:
                user = prefetched.user()
            except Exception:  # an entry that does not decode is a miss
                user = None
        else:
            try:
                user = cache.get(user_cache_key(user_id))
            except Exception:  # an unreachable cache costs the query, never the request
                logger.warning("user cache unreachable; reading the user from the database", exc_info=True)
                return super().get_user(user_id)
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                try:
                    cache.set(user_cache_key(user_id), user, settings.ACCOUNTS_USER_CACHE_SECONDS)
                except Exception:
                    logger.warning("user cache unreachable; user not cached", exc_info=True)
        elif not self.user_can_authenticate(user):
            user = None
        if user is not None and prefetched is not None and not prefetched.hinted:
            prefetched.remember()
        return user


def user_cache_forget(user_id) -> None:
    """Drop a user's cached copy now and once more when the current transaction commits."""
    cache = _cache()
    if cache is None:
        return

    def forget():
        try:
            cache.delete(user_cache_key(user_id))
        except Exception:
            logger.warning("user cache unreachable; entry left to expire", exc_info=True)

    forget()
    transaction.on_commit(forget)


def user_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete receiver for the user model (connected in AccountsConfig.ready)."""
    if instance.pk is not None:
        user_cache_forget(instance.pk)
