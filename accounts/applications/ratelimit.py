"""Fixed-window request counters in the shared cache, so every worker and machine counts together.

A worker adds its hits to the shared counter in batches of 1% of the limit (one by one under 200), so a
busy access check writes the database cache once every hundred requests instead of on every request. What a
worker has not added yet it counts itself: the limit holds to within one batch per worker.
"""

import math
import threading
import time

from django.core.cache import cache

BATCH_SHARE = 100  # a worker's batch: the limit divided by this (at least 1)
# This worker's hits of each live window: cache key -> [not yet added, the shared count when last added, end].
_windows: dict[str, list] = {}
_lock = threading.Lock()


def hit(scope: str, *, limit: int, window: int) -> int:
    """Count one request against `scope`; return 0 when it is within `limit` per `window` seconds,
    else the seconds until the window ends.

    The database cache's increment is a read then a write, so two workers racing may both count
    the same value: the limit can be overshot by the number of concurrent workers (and by one batch
    of each), never by more.
    """
    now = time.time()
    start = int(now // window) * window
    key = f"ratelimit:{scope}:{start}"
    count = _counted(key, batch=max(1, limit // BATCH_SHARE), window=window, end=start + window, now=now)
    return 0 if count <= limit else max(1, math.ceil(start + window - now))


def _counted(key: str, *, batch: int, window: int, end: int, now: float) -> int:
    """Count one hit of this window; return the count it makes, adding this worker's batch when it is full."""
    with _lock:
        if key not in _windows:
            _forget_ended(now)
        counts = _windows.setdefault(key, [0, 0, end])
        counts[0] += 1
        pending = counts[0] if counts[0] >= batch else 0
        if not pending:
            return counts[1] + counts[0]
        counts[0] = 0
    total = _added(key, pending, window)
    with _lock:
        counts[1] = max(counts[1], total)
        return counts[1] + counts[0]


def _added(key: str, amount: int, window: int) -> int:
    """Add `amount` to the shared counter; return its new value."""
    try:
        return cache.incr(key, amount)
    except ValueError:  # the window's first batch (here or on another worker)
        return amount if cache.add(key, amount, timeout=window + 5) else cache.incr(key, amount)


def _forget_ended(now: float) -> None:
    """Drop the windows that have ended (the caller holds the lock)."""
    for key in [key for key, counts in _windows.items() if counts[2] <= now]:
        del _windows[key]


def reset() -> None:
    """Forget this worker's counts (the shared counters stay)."""
    with _lock:
        _windows.clear()
