"""Reads on the events side: the pull feed, the export, the poll (RFC 8936; it marks what was acknowledged),
the JWKS and the delivery log."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from accounts.events import sets
from accounts.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription

# As for the revocation feed: the cursor only moves past rows this old, so a late commit is never skipped.
SETTLE_SECONDS = 5
PAGE_MAX = 500
POLL_MAX = 100
SCAN_MAX = 5000  # events read per page, of every application


@dataclass(frozen=True)
class EventPage:
    """One page of events, the cursor to ask with next, and whether more are waiting."""

    events: list[dict]
    next: int
    more: bool


def event_dict(event: OutboxEvent) -> dict:
    """Return an event as the feed and the export show it."""
    return {
        "id": event.pk,
        "type": event.type,
        "sub": event.sub,
        "applications": event.applications,
        "before": event.before,
        "after": event.after,
        "at": event.at.timestamp(),
        "actor": event.actor,
        "audit_event": event.audit_event_id,
    }


def feed_page(*, application: str | None, after: int, limit: int = PAGE_MAX) -> EventPage:
    """Return the events after the cursor (one application's, or all), oldest first, and a cursor that never
    skips a late commit: it only moves past rows older than SETTLE_SECONDS.
    """
    settled, cursor, page, more = timezone.now() - timedelta(seconds=SETTLE_SECONDS), after, [], False
    moving, rows = True, list(OutboxEvent.objects.filter(id__gt=after).order_by("id")[:SCAN_MAX])
    for row in rows:
        wanted = application is None or application in row.applications
        if wanted and len(page) == limit:
            more = True
            break
        page += [row] if wanted else []
        moving = moving and row.at <= settled
        cursor = row.pk if moving else cursor
    more = more or len(rows) == SCAN_MAX
    return EventPage([event_dict(row) for row in page], cursor, more and cursor > after)


def export_lines(*, after: int) -> Iterator[str]:
    """Yield every event after the cursor as one JSON line each, oldest first (for a SIEM; replayable)."""
    for row in OutboxEvent.objects.filter(id__gt=after).order_by("id").iterator(chunk_size=1000):
        yield json.dumps(event_dict(row), sort_keys=True) + "\n"


def poll_subscription(application_name: str) -> Subscription | None:
    """Return the application's active polled subscription, or None."""
    return Subscription.objects.filter(
        application__name=application_name, format=Subscription.POLL, active=True
    ).first()


def jwks() -> dict:
    """Return the public keys of the portal's Security Event Tokens."""
    return sets.jwks()


def poll_answer(*, subscription: Subscription, ack: list[str], limit: int, pool_issuer: str):
    """Mark the acknowledged SETs delivered; return ({jti: SET}, more available) of the rest (RFC 8936)."""
    acked = [int(jti) for jti in ack if jti.isascii() and jti.isdigit() and len(jti) <= 18]
    Delivery.objects.filter(subscription=subscription, event_id__in=acked, status=Delivery.PENDING).update(
        status=Delivery.DELIVERED, delivered_at=timezone.now()
    )
    return poll_sets(subscription=subscription, limit=limit, pool_issuer=pool_issuer)


def poll_sets(*, subscription: Subscription, limit: int, pool_issuer: str) -> tuple[dict[str, str], bool]:
    """Return ({jti: SET}, more available) of the subscription's unacknowledged events."""
    pending = Delivery.objects.filter(subscription=subscription, status=Delivery.PENDING).select_related("event")
    rows = list(pending.order_by("id")[: limit + 1])
    found = {}
    for row in rows[:limit]:
        claims = sets.set_claims(row.event, audience=subscription.application.name, pool_issuer=pool_issuer)
        if claims is not None:
            found[claims["jti"]] = sets.set_sign(claims)
    return found, len(rows) > limit


def deliveries_of(subscription: Subscription, *, limit: int = 200) -> list[Delivery]:
    """Return the subscription's latest deliveries with their events."""
    return list(subscription.deliveries.select_related("event").order_by("-id")[:limit])


def attempts_of(deliveries: list[Delivery]) -> dict[int, list[DeliveryAttempt]]:
    """Return each delivery's attempts, latest first."""
    found: dict[int, list[DeliveryAttempt]] = {}
    for attempt in DeliveryAttempt.objects.filter(delivery__in=deliveries).order_by("-id"):
        found.setdefault(attempt.delivery_id, []).append(attempt)
    return found
