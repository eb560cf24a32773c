"""Fixed-window request counters in the shared cache, so every worker and machine counts together."""

import math
import time

from django.core.cache import cache


def hit(scope: str, *, limit: int, window: int) -> int:
    """Count one request against `scope`; return 0 when it is within `limit` per `window` seconds,
    else the seconds until the window ends.

    The database cache's increment is a read then a write, so two workers racing may both count
    the same value: the limit can be overshot by the number of concurrent workers, never by more.
    """
    now = time.time()
    start = int(now // window) * window
    key = f"ratelimit:{scope}:{start}"
    try:
        count = cache.incr(key)
    except ValueError:  # the window's first request (here or on another worker)
        count = 1 if cache.add(key, 1, timeout=window + 5) else cache.incr(key)
    return 0 if count <= limit else max(1, math.ceil(start + window - now))
