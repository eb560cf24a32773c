"""Measure event delivery: from the change to the receiver's acknowledgement, p50/p95, and throughput.

Run from the repository root:  python bench/events_bench.py  [--quick]
1,000 changes (--quick: 200) to 100 users of billing, with 3 subscriptions of billing on loopback: two
cognito_access receivers (Standard Webhooks verified, marks stored) and one that answers 500 to everything.
Each change is written as the portal's services write one (the audit event, its outbox event and one
delivery per subscription, in one transaction), as fast as the database takes them, while one delivery
worker (accounts/events/delivery.deliver_due, PORTAL_EVENTS_SENDERS threads) runs alongside, as db_worker
does, polling every 50 ms when nothing is due. It measures, for the two healthy subscribers, the seconds from
each event's commit to the receiver's acknowledgement (p50, p95, max), the deliveries acknowledged per
second, and the failing subscriber's attempts (its back-off keeps it from slowing the others).
Prints a table and writes bench/results/events.json.
"""

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import directory_bench as base
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.audit.record import audit_record
from accounts.events import delivery
from accounts.events import services as event_services
from accounts.models import (
    Delivery,
    DeliveryAttempt,
    DirectoryEntry,
    DirectoryGrant,
    OutboxEvent,
    Subscription,
    User,
)
from cognito_access import MemoryStore, Receiver
from tests.support.events import subscriber_start, wsgi_start

RESULTS = base.ROOT / "bench" / "results" / "events.json"
USERS = 100
POLL_SECONDS = 0.05


class Acknowledging:
    """A cognito_access receiver on loopback that notes when it acknowledged each event id."""

    def __init__(self):
        self.store, self.acked, self.receiver = MemoryStore(), {}, None
        self.base, self.server = wsgi_start(self)

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        status, answer = self.receiver.receive(headers, body)
        if status == 200:
            self.acked.setdefault(headers["WEBHOOK-ID"], time.time())
        start_response(f"{status} {'OK' if status == 200 else 'Refused'}", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]


def seed_users() -> list[str]:
    """Put USERS billing users in the index; return their subs."""
    subs = [f"bench-events-{number:04}" for number in range(USERS)]
    now = timezone.now()
    DirectoryEntry.objects.bulk_create(
        [
            DirectoryEntry(sub=sub, username=sub, email=f"{sub}@example.com", status="CONFIRMED", synced_at=now)
            for sub in subs
        ]
    )
    DirectoryGrant.objects.bulk_create([DirectoryGrant(entry_id=sub, application="billing") for sub in subs])
    return subs


def change(actor: User, sub: str, number: int) -> None:
    """Write one role change's audit event (its outbox event and deliveries come with it)."""
    before, after = f"a{number % 3 + 1}", f"a{(number + 1) % 3 + 1}"
    audit_record(
        actor=actor,
        action="role_change",
        target=f"{sub}@example.com",
        target_sub=sub,
        before={"role": before},
        after={"role": after, "sessions_revoked": True},
    )


def worker(stop: threading.Event, issuer: str) -> None:
    """Deliver until told to stop, polling when nothing is due (as db_worker's queued runs would)."""
    try:
        while not stop.is_set():
            if not delivery.deliver_due(pool_issuer=issuer, budget_seconds=5):
                time.sleep(POLL_SECONDS)
    finally:
        connection.close()


def measure(changes: int, *, backlog: bool = False) -> dict:
    """Make `changes` changes with three subscribers, one failing; return the figures.

    With `backlog`, the worker starts only once every change is written: the figures are its draining rate.
    """
    admin = User.objects.get(email="bench@example.com")
    Subscription.objects.update(active=False)  # an earlier run's subscriptions stay out of this one
    healthy = [Acknowledging(), Acknowledging()]
    failing = subscriber_start()
    failing.status = 500
    for receiver in healthy:
        _subscription, secret = event_services.subscription_create(
            actor=admin, application="billing", url=f"{receiver.base}/events", types=[]
        )
        receiver.receiver = Receiver(store=receiver.store, secret=secret)
    event_services.subscription_create(actor=admin, application="billing", url=failing.url, types=[])
    seeded = DirectoryEntry.objects.filter(sub__startswith="bench-events-").order_by("sub")
    subs = list(seeded.values_list("sub", flat=True)) or seed_users()
    stop = threading.Event()
    thread = threading.Thread(target=worker, args=(stop, "https://cognito-idp.us-east-1.amazonaws.com/bench"))
    first = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    if not backlog:
        thread.start()
    began = started = time.time()
    for number in range(changes):
        change(admin, subs[number % USERS], number)
    written = time.time()
    if backlog:
        started = written  # throughput counts from the worker's start
        thread.start()
    deadline = written + 120
    while time.time() < deadline and min(len(receiver.acked) for receiver in healthy) < changes:
        time.sleep(0.05)
    finished = time.time()
    stop.set()
    thread.join()
    events = OutboxEvent.objects.filter(id__gt=first).values_list("pk", "at")
    at = {f"evt_{pk}": moment.timestamp() for pk, moment in events}
    latencies = sorted(ack - at[key] for receiver in healthy for key, ack in receiver.acked.items())
    acked = sum(len(receiver.acked) for receiver in healthy)
    last_ack = max(max(receiver.acked.values()) for receiver in healthy)
    failing_subscription = Subscription.objects.get(url=failing.url, active=True)
    failing_attempts = DeliveryAttempt.objects.filter(delivery__subscription=failing_subscription).count()
    for receiver in healthy:
        receiver.server.shutdown()
    failing.server.shutdown()
    return {
        "mode": "backlog drained" if backlog else "worker alongside the changes",
        "changes": changes,
        "users": USERS,
        "subscribers": 3,
        "failing_subscribers": 1,
        "senders": settings.PORTAL_EVENTS_SENDERS,
        "worker_poll_seconds": POLL_SECONDS,
        "changes_written_seconds": round(written - began, 2),
        "changes_per_second": round(changes / (written - began), 1),
        "acknowledged": acked,
        "expected": 2 * changes,
        "p50_seconds": round(statistics.median(latencies), 3),
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "max_seconds": round(latencies[-1], 3),
        "deliveries_per_second": round(acked / (last_ack - started), 1),
        "all_acknowledged_seconds": round(finished - started, 2),
        "failing_attempts": failing_attempts,
        "failing_pending": failing_subscription.deliveries.filter(status=Delivery.PENDING).count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 changes instead of 1,000")
    options = parser.parse_args()
    logging.getLogger("accounts.events").setLevel(logging.ERROR)  # the failing subscriber's every attempt
    settings.PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK = True
    settings.PORTAL_EVENTS_SENDERS = 8
    settings.PORTAL_EVENTS_BACKOFF_SECONDS = 5
    connection.ensure_connection()
    with base.mock_aws():
        base.setup()
        size = 200 if options.quick else 1000
        result = measure(size)
        result["backlog"] = measure(size, backlog=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"Event delivery: {result['changes']:,} changes, 3 subscribers (1 answering 500), {USERS} users")
    for key, value in result.items():
        if key != "backlog":
            print(f"  {key:28} {value}  (backlog drained: {result['backlog'].get(key, '')})")


if __name__ == "__main__":
    main()
