"""One directory sync at a time, on any machine; its calls are paced by the UserList quota bucket (cognito.quota_paced).

The lease is one row (SyncState, pk 1) taken with a compare-and-set UPDATE: free when nobody holds it or its
holder's lease has run out (a worker killed mid-sync). The holder renews it at every Cognito call and every
batch it writes, so a live sync never loses it. The same calls record its progress for the progress page.
"""

import os
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from accounts import cognito
from accounts.models import DirectoryEntry, DirectorySync, SyncState

LEASE = timedelta(seconds=60)
STATE = 1
SUCCESS, FAILURE, INTERRUPTED = "success", "failure", "interrupted"
SAID = {
    "busy": "Another directory sync is running (held by {holder}); this one did not start.",
    "stopped": "the worker was asked to stop",
    "lost": "the lease was lost (the run took longer than {seconds} s between two Cognito calls)",
}


class SyncBusy(Exception):
    """Another sync holds the lease."""


class SyncInterrupted(Exception):
    """The sync was cut short before it finished; the message says why."""


def holder_name(label: str) -> str:
    """Return who runs this sync: the actor, then host and process."""
    return f"{label[:80]} ({socket.gethostname()[:30]}:{os.getpid()})"


def state() -> SyncState:
    """Return the sync's row, creating it the first time."""
    try:
        return SyncState.objects.get_or_create(pk=STATE)[0]
    except IntegrityError:  # created by another process between the read and the insert
        return SyncState.objects.get(pk=STATE)


def lease_take(holder: str) -> None:
    """Take the lease for `holder`, or raise SyncBusy naming who holds it."""
    current, now = state(), timezone.now()
    free = Q(holder="") | Q(lease_until__lt=now) | Q(lease_until=None)
    won = SyncState.objects.filter(free, pk=STATE).update(
        holder=holder[:128], lease_until=now + LEASE, started_at=now, calls=0
    )
    if not won:
        current.refresh_from_db()
        raise SyncBusy(SAID["busy"].format(holder=current.holder))


def lease_renew(holder: str, calls: int) -> bool:
    """Extend the lease and record the calls made so far; return False when `holder` no longer holds it."""
    return bool(
        SyncState.objects.filter(pk=STATE, holder=holder[:128]).update(lease_until=timezone.now() + LEASE, calls=calls)
    )


def lease_release(holder: str, *, outcome: str, error: str = "", calls: int = 0) -> None:
    """Give the lease back, recording how the run ended (and, after a success, the calls it took)."""
    fields = {
        "holder": "",
        "lease_until": None,
        "finished_at": timezone.now(),
        "outcome": outcome,
        "error": error[:2000],
        "calls": calls,
    }
    if outcome == SUCCESS:
        fields["expected_calls"] = calls
    SyncState.objects.filter(pk=STATE, holder=holder[:128]).update(**fields)


def rate() -> float:
    """Return the Cognito calls per second a sync may make: the share of the UserList quota (its list calls')."""
    return cognito.category_rate("UserList")


class Pacer:
    """Called before each Cognito attempt of a sync: stop when asked, record the attempt, renew the lease.

    The wait for the attempt's slot is the quota bucket's (the sync runs inside cognito.quota_paced()).
    """

    def __init__(self, holder: str, *, stop: threading.Event | None = None):
        self.holder, self.stop = holder, stop or threading.Event()
        self.calls = 0

    def __call__(self, _operation: str = "") -> None:
        """Stop when asked, then record the attempt and renew the lease."""
        self.check()
        self.calls += 1
        self.renew()

    def check(self) -> None:
        """Raise SyncInterrupted when the worker was asked to stop."""
        if self.stop.is_set():
            raise SyncInterrupted(SAID["stopped"])

    def renew(self) -> None:
        """Extend the lease, or raise SyncInterrupted when it was lost."""
        if not lease_renew(self.holder, self.calls):
            raise SyncInterrupted(SAID["lost"].format(seconds=int(LEASE.total_seconds())))


@dataclass(frozen=True)
class Freshness:
    """How fresh the directory is, and what the sync is doing, for the directory header and progress page."""

    rows: int
    last: DirectorySync | None
    state: SyncState
    interval: int

    @property
    def stale(self) -> bool:
        """Return True when no sync completed within two intervals."""
        limit = timedelta(seconds=2 * self.interval)
        return self.last is None or timezone.now() - self.last.started > limit

    @property
    def running(self) -> bool:
        """Return True while a worker holds a live lease."""
        until = self.state.lease_until
        return bool(self.state.holder) and until is not None and until > timezone.now()

    @property
    def queued(self) -> bool:
        """Return True when a refresh was asked for and no run has finished since."""
        asked, done = self.state.requested_at, self.state.finished_at
        return asked is not None and (done is None or done < asked) and not self.running

    @property
    def percent(self) -> int | None:
        """Return how far the running sync is, from the calls the last one took (None when unknown)."""
        expected = self.state.expected_calls
        return min(99, 100 * self.state.calls // expected) if self.running and expected else None


def due() -> bool:
    """Return True when no sync completed within the last interval."""
    last = DirectorySync.objects.order_by("-started").first()
    return last is None or timezone.now() - last.started >= timedelta(seconds=settings.PORTAL_SYNC_INTERVAL_SECONDS)


def freshness() -> Freshness:
    """Return how fresh the directory is: its rows, the last complete sync, and the sync's state."""
    current = SyncState.objects.filter(pk=STATE).first() or SyncState(pk=STATE)  # a read: GET writes nothing
    return Freshness(
        rows=DirectoryEntry.objects.count(),
        last=DirectorySync.objects.order_by("-started").first(),
        state=current,
        interval=settings.PORTAL_SYNC_INTERVAL_SECONDS,
    )
