"""The last use of each application by each user, recorded by the access-check API at almost no cost.

A check is remembered in this process for USE_SECONDS, so repeated checks of the same user and application
touch no database at all; the first one after that sends one conditional UPDATE (and an INSERT that ignores a
conflict for a pair never seen). The UPDATE only matches a row older than USE_SECONDS, so however many
workers check the same pair, at most one row write per pair and minute reaches the database.
"""

import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import ApplicationUse

logger = logging.getLogger("accounts.api")

USE_SECONDS = 60
REMEMBERED_MAX = 50_000  # pairs remembered per process before the stale ones are forgotten

_remembered: dict[tuple[str, str], datetime] = {}


def _fresh_here(key: tuple[str, str], now: datetime) -> bool:
    """Return True when this process recorded the pair less than USE_SECONDS ago; else remember it now."""
    seen = _remembered.get(key)
    if seen is not None and now - seen < timedelta(seconds=USE_SECONDS):
        return True
    if len(_remembered) >= REMEMBERED_MAX:
        _forget_stale(now)
    _remembered[key] = now
    return False


def _forget_stale(now: datetime) -> None:
    """Drop the pairs recorded more than USE_SECONDS ago (all of them if none is stale)."""
    stale = [key for key, seen in _remembered.items() if now - seen >= timedelta(seconds=USE_SECONDS)]
    for key in stale or list(_remembered):
        del _remembered[key]


def forget_all() -> None:
    """Forget what this process recorded (as a new worker would start)."""
    _remembered.clear()


def use_record(*, sub: str, application: str, at: datetime | None = None) -> bool:
    """Record that the user was allowed into the application now; return True when the database was asked.

    A database fault is logged and swallowed: the access check's answer never depends on this row.
    """
    now = at or timezone.now()
    if _fresh_here((sub, application), now):
        return False
    cutoff = now - timedelta(seconds=USE_SECONDS)
    try:
        with transaction.atomic():
            rows = ApplicationUse.objects.filter(sub=sub, application=application, last_at__lt=cutoff)
            if not rows.update(last_at=now):
                ApplicationUse.objects.bulk_create(
                    [ApplicationUse(sub=sub, application=application, last_at=now)], ignore_conflicts=True
                )
    except DatabaseError:
        logger.warning("access-check: the last use of %s by sub=%s was not recorded", application[:60], sub)
    return True
