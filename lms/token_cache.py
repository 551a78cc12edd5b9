"""Integration tokens read from the shared cache: an integrator's API call costs no query to authenticate.

Every token request looked its token up in the database (one query, about a
fifth of a feed page's time in process; issue #8). With a cache that every
app server shares (`LMS_TOKEN_CACHE_ALIAS`, the Redis of `LMS_CACHE_URL`),
the token and its organisation are kept there under the token's public
lookup, for at most `LMS_TOKEN_CACHE_SECONDS`. A per-process cache is never
used: a token revoked through one server would keep working on the others.

What stays exact:
- The secret is checked on every request, against the stored digest, as
  the database path does; a wrong secret is a 401 either way.
- Revoking a token, saving or deleting it, or saving or deleting its
  organisation (deactivating it) replaces the entry with a tombstone, at
  once and again when the transaction commits. The entry is only ever
  written with `add`, which a tombstone blocks, so a request that read the
  token just before a revocation committed cannot put it back. While the
  tombstone lives, requests read the database.
- An unreachable cache is a miss, never an error.

What it changes: `last_used_at` is written (at most once a minute, as
before) only when a request reads the token from the database, which with
the cache happens at least once per `LMS_TOKEN_CACHE_SECONDS` of use. So it
trails the last use by at most that plus a minute.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from lms import selectors
from lms.models import IntegrationToken, token_digest

logger = logging.getLogger(__name__)

TOMBSTONE = "forgotten"


def _cache():
    alias = getattr(settings, "LMS_TOKEN_CACHE_ALIAS", None)
    return caches[alias] if alias else None


def token_cache_key(lookup: str) -> str:
    return f"lms:token:{lookup}"


def authenticate(raw: str) -> tuple[IntegrationToken | None, bool]:
    """The live token for a raw `ce_…` string (or None), and whether it came from the cache.

    A token that came from the database should be touched and then `remember`ed by the caller.
    """
    lookup = selectors.integration_token_lookup(raw)
    if lookup is None:
        return None, False
    cache = _cache()
    if cache is not None:
        try:
            cached = cache.get(token_cache_key(lookup))
        except Exception:  # an unreachable cache costs the query, never the request
            logger.warning("token cache unreachable; reading the token from the database", exc_info=True)
            cached = None
        if isinstance(cached, IntegrationToken):
            if cached.lookup == lookup and hmac.compare_digest(cached.digest, token_digest(raw)):
                return cached, True
            return None, True
    return selectors.integration_token_authenticate(raw=raw), False


def remember(token: IntegrationToken) -> None:
    """Keep a token read from the database, unless it is cached already or forgotten (a tombstone)."""
    cache = _cache()
    if cache is None or token.revoked_at is not None or not token.organisation.is_active:
        return
    try:
        cache.add(token_cache_key(token.lookup), token, settings.LMS_TOKEN_CACHE_SECONDS)
    except Exception:
        logger.warning("token cache unreachable; token not cached", exc_info=True)


def forget(*lookups: str) -> None:
    """Replace these tokens' entries with tombstones now and once more when the current transaction commits."""
    cache = _cache()
    if cache is None or not lookups:
        return
    entries = {token_cache_key(lookup): TOMBSTONE for lookup in lookups}

    def bury():
        try:
            cache.set_many(entries, settings.LMS_TOKEN_CACHE_SECONDS)
        except Exception:
            logger.warning("token cache unreachable; entries left to expire", exc_info=True)

    bury()
    transaction.on_commit(bury)


def token_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete receiver for IntegrationToken (connected in LmsConfig.ready)."""
    if instance.lookup and not kwargs.get("created"):  # a new token cannot be cached yet
        forget(instance.lookup)


def organisation_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete receiver for Organisation: its tokens follow its state (is_active)."""
    if _cache() is not None and instance.pk is not None:
        forget(*IntegrationToken.objects.filter(organisation_id=instance.pk).values_list("lookup", flat=True))
