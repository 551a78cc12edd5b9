"""Send one statement to an LRS and say what the answer means for the outbox.

`statement_put()` PUTs the statement at `statements?statementId=<its id>`
with HTTP Basic and `X-Experience-API-Version: 1.0.3`, and classifies the
answer (xAPI 1.0.3, Communication 2.1.1):

- 2xx (an LRS answers 204 No Content): delivered.
- 409 Conflict: the LRS already has a statement with this id. If it is the
  same statement (our resend after a lost answer; some LRSs answer 409
  even then), or differs only in an activity's definition (a course or quiz
  renamed between our tries: the fact did arrive), it is delivered; if the
  fact itself differs, resending cannot help: permanent.
- other 4xx (bad statement, bad credentials, unknown endpoint): permanent,
  except 408 and 429, which say "later".
- 5xx, timeouts, refused connections: retryable.

Redirects are not followed: a PUT turned into a GET elsewhere would be
reported as sent. No Django imports, so it is used and tested on its own.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

XAPI_VERSION_HEADER = "1.0.3"
RETRYABLE_4XX = {408, 425, 429}
# Properties the LRS sets or may rewrite; left out when comparing statements (Data 2.4.1, 2.4.8-2.4.10).
LRS_ASSIGNED = {"stored", "authority", "version"}


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one send. `ok` delivered; otherwise `retryable` tells
    the outbox whether to back off and try again or give up (dead letter)."""

    ok: bool
    retryable: bool = False
    response_code: int | None = None
    error: str = ""
    held: bool = False  # nothing sent: the endpoint is paused (the outbox logs no try)


@dataclass(frozen=True)
class Lrs:
    url: str  # the xAPI base, e.g. http://127.0.0.1:8100/xAPI/
    key: str
    secret: str
    timeout: float = 10.0

    @property
    def statements_url(self) -> str:
        return self.url.rstrip("/") + "/statements"

    def headers(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.key}:{self.secret}".encode()).decode()
        return {
            "Authorization": f"Basic {token}",
            "X-Experience-API-Version": XAPI_VERSION_HEADER,
            "User-Agent": "kratom-ce-xapi/1",
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _request(lrs: Lrs, method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """(status, body); raises OSError (incl. URLError, timeouts) when no answer came."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise ValueError(f"unsupported URL scheme in {url!r}")
    headers = lrs.headers()
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (scheme checked)
    try:
        with _opener.open(request, timeout=lrs.timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _normalised(statement: dict) -> dict:
    """A statement as compared for sameness: without LRS-assigned properties,
    with the timestamp as an instant (an LRS may reformat it)."""
    out = {k: v for k, v in statement.items() if k not in LRS_ASSIGNED}
    if isinstance(out.get("timestamp"), str):
        with contextlib.suppress(ValueError):  # not a timestamp: compared as text
            out["timestamp"] = dt.datetime.fromisoformat(out["timestamp"]).timestamp()
    return json.loads(json.dumps(out, sort_keys=True))


def same_statement(ours: dict, theirs: dict) -> bool:
    return _normalised(ours) == _normalised(theirs)


def _without_definitions(statement: dict) -> dict:
    out = json.loads(json.dumps(statement))
    if isinstance(out.get("object"), dict):
        out["object"].pop("definition", None)
    for activities in (out.get("context") or {}).get("contextActivities", {}).values():
        for activity in activities if isinstance(activities, list) else [activities]:
            if isinstance(activity, dict):
                activity.pop("definition", None)
    return out


def same_fact(ours: dict, theirs: dict) -> bool:
    """Same statement but perhaps for activity definitions (names, descriptions):
    an LRS keeps an activity's definition as metadata, and ours may have been
    edited (a quiz renamed) between a try whose answer we lost and this one."""
    return same_statement(_without_definitions(ours), _without_definitions(theirs))


def statement_get(lrs: Lrs, statement_id: str) -> dict | None:
    """The LRS's copy of a statement, or None if it has none. Raises OSError if unreachable."""
    status, body = _request(lrs, "GET", f"{lrs.statements_url}?{urlencode({'statementId': statement_id})}")
    if status == 404:
        return None
    if status != 200:
        raise OSError(f"GET statement {statement_id}: HTTP {status}")
    data = json.loads(body)
    # The spec returns the statement itself; Ralph wraps it in a StatementResult.
    if "statements" in data:
        return data["statements"][0] if data["statements"] else None
    return data


def statement_put(lrs: Lrs, statement: dict) -> DeliveryResult:
    """Send one statement (which must carry its id); never raises for a failed send."""
    url = f"{lrs.statements_url}?{urlencode({'statementId': statement['id']})}"
    body = json.dumps(statement, separators=(",", ":")).encode()
    try:
        status, answer = _request(lrs, "PUT", url, body)
    except (OSError, ValueError) as exc:
        return DeliveryResult(ok=False, retryable=not isinstance(exc, ValueError), error=f"{type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return DeliveryResult(ok=True, response_code=status)
    detail = answer[:500].decode(errors="replace")
    if status == 409:
        try:
            stored = statement_get(lrs, statement["id"])
        except (OSError, ValueError) as exc:
            return DeliveryResult(ok=False, retryable=True, response_code=status,
                                  error=f"409, and the stored copy could not be read: {exc}")
        if stored is not None and same_statement(statement, stored):
            return DeliveryResult(ok=True, response_code=status)
        if stored is not None and same_fact(statement, stored):
            return DeliveryResult(ok=True, response_code=status,
                                  error="delivered earlier; the LRS keeps the older activity definition")
        return DeliveryResult(ok=False, response_code=status,
                              error=f"HTTP 409: a different statement has id {statement['id']}: {detail}")
    retryable = status >= 500 or status in RETRYABLE_4XX
    return DeliveryResult(ok=False, retryable=retryable, response_code=status, error=f"HTTP {status}: {detail}")
