"""The ends set on access (AccessEnd rows) and their notices in the revocation feed; models only, no Cognito.

Each open end is published in the feed when it is set, ahead of time, so that an application following the
feed refuses at the instant of the end whatever the portal's workers are doing; a notice is withdrawn
(`cancelled`) when the end is moved, removed or made moot by a later change.
"""

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import AccessEnd, Revocation
from accounts.rules import roles

ENDED_BY_SWEEP = "expired"


def _notice(end: AccessEnd, *, cancelled: bool = False) -> None:
    """Publish (or withdraw) an end in the revocation feed."""
    Revocation.objects.create(
        sub=end.sub,
        not_before=end.ends_at,
        reason=f"{end.kind} end"[:64],
        scope="end",
        application=end.application,
        fallback_role=end.previous_role,
        fallback_level=end.previous_level,
        cancelled=cancelled,
    )


def open_end(sub: str, kind: str, application: str = "") -> AccessEnd | None:
    """Return the open end of this kind for the user (and application), or None."""
    return AccessEnd.objects.filter(sub=sub, kind=kind, application=application, state=AccessEnd.OPEN).first()


def ends_open(sub: str) -> list[AccessEnd]:
    """Return the user's open ends, soonest first."""
    return list(AccessEnd.objects.filter(sub=sub, state=AccessEnd.OPEN).order_by("ends_at", "id"))


def _close(end: AccessEnd, *, state: str, reason: str) -> None:
    """Mark one end closed or ended and withdraw its notice.

    Once Cognito matches (or the end will not act), the notice has done its work: the change that closed it
    signed the user out, so no token issued before it counts, and a later grant or role must not be refused.
    """
    end.state, end.ended_at, end.closed_reason = state, timezone.now(), reason[:254]
    end.save(update_fields=["state", "ended_at", "closed_reason"])
    _notice(end, cancelled=True)


def end_close(end: AccessEnd, *, reason: str) -> None:
    """Close an end before (or without) it being swept: it will not act."""
    _close(end, state=AccessEnd.CLOSED, reason=reason)


def end_mark_ended(end: AccessEnd) -> None:
    """Record that the sweep made Cognito match the end."""
    _close(end, state=AccessEnd.ENDED, reason=ENDED_BY_SWEEP)


def end_mark_late(end: AccessEnd, *, reason: str) -> None:
    """Record why the sweep could not end it yet (it is tried again at the next run)."""
    AccessEnd.objects.filter(pk=end.pk).update(attempts=end.attempts + 1, late_reason=reason[:2000])


def grant_end_set(*, sub: str, application: str, ends_at: datetime | None, by: tuple[str, str]) -> AccessEnd | None:
    """Make `ends_at` the grant's only open end (None: no end); return the open end."""
    current = open_end(sub, AccessEnd.GRANT, application)
    if current is not None:
        end_close(current, reason="replaced" if ends_at else "end removed")
    if ends_at is None:
        return None
    end = AccessEnd.objects.create(
        kind=AccessEnd.GRANT, sub=sub, application=application, ends_at=ends_at, granted_by=by[0], granted_by_sub=by[1]
    )
    _notice(end)
    return end


def grant_ends_close(*, sub: str, applications: list[str], reason: str) -> None:
    """Close the open ends of applications no longer held (revoked, or removed outside the portal)."""
    rows = AccessEnd.objects.filter(sub=sub, kind=AccessEnd.GRANT, application__in=applications, state=AccessEnd.OPEN)
    for end in rows:
        end_close(end, reason=reason)


def raise_open(
    *, sub: str, raised: roles.Role, previous: tuple[str, int], ends_at: datetime, by: tuple[str, str]
) -> AccessEnd:
    """Record a temporary raise (closing the one it replaces) and publish its end."""
    current = open_end(sub, AccessEnd.RAISE)
    if current is not None:
        end_close(current, reason=f"replaced by a raise to {raised}")
    end = AccessEnd.objects.create(
        kind=AccessEnd.RAISE,
        sub=sub,
        ends_at=ends_at,
        granted_by=by[0],
        granted_by_sub=by[1],
        role=raised.name,
        level=raised.level,
        previous_role=previous[0],
        previous_level=previous[1],
    )
    _notice(end)
    return end


def raise_close(*, sub: str, reason: str) -> None:
    """Close the user's open raise, if any: a permanent change replaced it."""
    if (current := open_end(sub, AccessEnd.RAISE)) is not None:
        end_close(current, reason=reason)


def due(*, now: datetime, limit: int) -> list[AccessEnd]:
    """Return the open ends that have come, oldest end first."""
    return list(AccessEnd.objects.filter(state=AccessEnd.OPEN, ends_at__lte=now).order_by("ends_at", "id")[:limit])


def to_notify(*, now: datetime, hours: int) -> list[AccessEnd]:
    """Return the open ends within `hours` whose granter was not told yet."""
    soon = now + timedelta(hours=hours)
    rows = AccessEnd.objects.filter(state=AccessEnd.OPEN, notified_at=None, ends_at__lte=soon, ends_at__gt=now)
    return list(rows.order_by("ends_at", "id"))


def notified(end: AccessEnd) -> None:
    """Record that the granter was told."""
    AccessEnd.objects.filter(pk=end.pk).update(notified_at=timezone.now())


def passed_for(sub: str, *, now: datetime) -> tuple[set[str], AccessEnd | None]:
    """Return the applications whose end has come (not yet swept) and the raise whose end has come, if any."""
    rows = AccessEnd.objects.filter(sub=sub, state=AccessEnd.OPEN, ends_at__lte=now)
    apps, raised = set(), None
    for end in rows:
        if end.kind == AccessEnd.GRANT:
            apps.add(end.application)
        else:
            raised = end
    return apps, raised


def soon_q(*, now: datetime, days: int) -> Q:
    """Return the filter of open ends that come within `days` (not those already passed)."""
    return Q(state=AccessEnd.OPEN, ends_at__gt=now, ends_at__lte=now + timedelta(days=days))


def passed_q(*, now: datetime) -> Q:
    """Return the filter of open ends already passed (the sweep has not caught up yet)."""
    return Q(state=AccessEnd.OPEN, ends_at__lte=now)
