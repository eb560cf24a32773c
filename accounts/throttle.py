"""Slow down repeated failed sign-ins, per username and per client address.

Counters live in the shared cache, so every worker and machine sees the same ones;
Cognito's own lockout still applies on top.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache


def _keys(username: str, address: str | None) -> list[tuple[str, int]]:
    """Return the (cache key, limit) pairs that this attempt counts against."""
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    pairs = [(f"signin-fail:user:{user_key}", settings.PORTAL_SIGNIN_MAX_FAILURES_PER_USER)]
    if address:
        pairs.append((f"signin-fail:addr:{address}", settings.PORTAL_SIGNIN_MAX_FAILURES_PER_ADDRESS))
    return pairs


def locked_for(username: str, address: str | None) -> int:
    """Return how many seconds sign-in stays locked for this username or address (0 when open)."""
    now = time.time()
    waits = []
    for key, limit in _keys(username, address):
        failures = cache.get(key) or []
        recent = [at for at in failures if now - at < settings.PORTAL_SIGNIN_LOCKOUT_SECONDS]
        if len(recent) >= limit:
            waits.append(settings.PORTAL_SIGNIN_LOCKOUT_SECONDS - (now - recent[-limit]))
    return math.ceil(max(waits)) if waits else 0


def record_failure(username: str, address: str | None) -> None:
    """Count one failed sign-in against the username and the address."""
    now = time.time()
    for key, limit in _keys(username, address):
        failures = [at for at in (cache.get(key) or []) if now - at < settings.PORTAL_SIGNIN_LOCKOUT_SECONDS]
        cache.set(key, (failures + [now])[-limit:], settings.PORTAL_SIGNIN_LOCKOUT_SECONDS)


def record_success(username: str) -> None:
    """Forget the username's failures after a successful sign-in."""
    cache.delete(_keys(username, None)[0][0])
