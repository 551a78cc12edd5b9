"""The floor: the cheapest page Django can serve, at a chosen size.

It passes through the whole middleware stack (sessions, CSRF, CSP, axes...)
but touches no database and renders no template, so its throughput is what
this server, client and network give any page of that size; each measured
page is reported as a ratio of it.
"""

from functools import lru_cache

from django.http import HttpResponse

MAX_SIZE = 4_000_000


@lru_cache(maxsize=256)
def _body(size: int) -> bytes:
    head = b"<!doctype html><html lang=\"en\"><head><title>floor</title></head><body><p>"
    tail = b"</p></body></html>"
    filler = max(0, size - len(head) - len(tail))
    return head + (b"lorem ipsum dolor sit amet " * (filler // 27 + 1))[:filler] + tail


def floor(request, size: int):
    return HttpResponse(_body(min(size, MAX_SIZE)), content_type="text/html; charset=utf-8")
