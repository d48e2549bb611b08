"""A rate limit on the POSTs of public pages (no login), counted per address in the cache.

The patient pages are open to anyone with a link; this caps how fast one address can post
to them (answers, confirmations, reschedule requests), whatever the link.
"""

import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache

from clinic.audit import client_ip


def _allowed(scope: str, address: str, limit: int, seconds: int) -> bool:
    window = int(time.time() // seconds)
    key = f"ratelimit:{scope}:{address}:{window}"
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.set(key, 1, timeout=seconds)
        count = 1
    return count <= limit


def post_rate_limited(*, scope: str, limit_setting: str, refused, minutes: int = 10):
    """Decorate a view: more than settings.<limit_setting> POSTs from one address in a
    `minutes` window get `refused(request)` (a 429 page) instead of the view."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST" and not _allowed(
                scope, client_ip(request) or "-", getattr(settings, limit_setting), minutes * 60
            ):
                return refused(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
