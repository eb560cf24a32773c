"""The expiry sweep: make Cognito match the ends that have come, through the same services as a person.

The access-check API and the feed refuse at the instant of an end already; the sweep removes the group (or
restores the role) afterwards, as the actor "expiry", oldest end first. It catches up whatever it finds due,
however long the workers were down. An end it cannot finish (Cognito busy or down, a refusal) stays open with
the reason it is late, and is tried again at the next run. It also emails each granter before the end.
"""

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts import cognito
from accounts.directory import ends, selectors, services
from accounts.models import AccessEnd
from accounts.rules import ends as end_rules
from accounts.rules import permissions

NOTICE_SUBJECT = "Access ending {when}: {what} for {email}"
NOTICE_BODY = (
    "{what} that you gave {email} ends {when}.\n\n"
    "When it ends the portal removes it and signs the user out everywhere. To keep it, open the user's page "
    "and move or remove the end.\n"
)
GONE = "The user is no longer in the directory; nothing to end."


@dataclass
class SweepReport:
    """What one run of the sweep did."""

    counts: Counter = field(default_factory=Counter)
    more: bool = False  # more ends are due than one run takes


def _actor():
    """Return the sweep's actor: it holds the rules of an administrator and is audited as "expiry"."""
    return permissions.CommandActor(services.EXPIRY_ACTOR)


def _late(end: AccessEnd, exc: Exception) -> str:
    """Record why an end could not be finished; return 'late'."""
    reason = getattr(exc, "message", "") or f"{getattr(exc, 'code', '') or exc.__class__.__name__}: {exc}"
    ends.end_mark_late(end, reason=f"Cognito: {reason}" if isinstance(exc, cognito.CognitoError) else reason)
    return "late"


def _grant_end(end: AccessEnd) -> str:
    """End one grant; return what happened."""
    result = services.access_expire(actor=_actor(), end=end)
    if result.failed:
        ends.end_mark_late(end, reason=result.failed[2])
        return "late"
    return "ended"


def _raise_end(end: AccessEnd) -> str:
    """Return one raised user to their previous role; return what happened."""
    try:
        services.role_raise_end(actor=_actor(), end=end)
    except services.StaleRole as exc:
        ends.end_close(end, reason=f"not restored: role changed outside the portal ({exc.details['current']})")
        return "closed"
    return "ended"


def end_one(end: AccessEnd) -> str:
    """Make Cognito match one end that has come; return 'ended', 'closed' or 'late'."""
    try:
        return _grant_end(end) if end.kind == AccessEnd.GRANT else _raise_end(end)
    except (services.NotInDirectory, services.UserVanished):
        ends.end_close(end, reason=GONE)
        return "closed"
    except (services.ServiceError, cognito.CognitoError) as exc:
        return _late(end, exc)


def sweep(*, now: datetime | None = None, limit: int | None = None, pacer=None, stop=None) -> SweepReport:
    """End every due end (up to `limit`), each Cognito call paced by `pacer`; return the counts."""
    limit = limit or settings.PORTAL_EXPIRY_SWEEP_BATCH
    due = ends.due(now=now or timezone.now(), limit=limit)
    report = SweepReport(more=len(due) >= limit)
    with cognito.pace(pacer) if pacer else nullcontext():
        for end in due:
            if stop is not None and stop.is_set():
                report.more = True
                break
            report.counts[end_one(end)] += 1
    report.counts["notified"] = notices_send(now=now)
    return report


def _what(end: AccessEnd) -> str:
    """Return what an end ends, for people."""
    if end.kind == AccessEnd.GRANT:
        return f"Access to {end.application}"
    return f"The temporary role {end.role.upper()}{end.level}"


def notices_send(*, now: datetime | None = None) -> int:
    """Email each granter whose end comes within PORTAL_EXPIRY_NOTICE_HOURS, once; return how many were sent."""
    hours = settings.PORTAL_EXPIRY_NOTICE_HOURS
    if not hours:
        return 0
    sent = 0
    for end in ends.to_notify(now=now or timezone.now(), hours=hours):
        entry = selectors.entry_get(end.sub)
        if "@" in end.granted_by and entry is not None:
            words = {"what": _what(end), "email": entry.email, "when": end_rules.end_label(end.ends_at)}
            send_mail(NOTICE_SUBJECT.format(**words), NOTICE_BODY.format(**words), None, [end.granted_by])
            sent += 1
        ends.notified(end)
    return sent
