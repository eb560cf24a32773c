"""Delivering the outbox: each due delivery signed and sent by a task worker, retried, then marked failed.

- At least once: a delivery is done only once its subscriber answered 2xx; `webhook-id` (or the SET's `jti`)
  is the event's id, the same on every retry, so the subscriber can drop a repeat.
- In order per user: a delivery waits while an earlier one of the same subscription and user is pending.
- Retried with exponential back-off (PORTAL_EVENTS_BACKOFF_SECONDS doubled, capped) for
  PORTAL_EVENTS_RETRY_SECONDS after the event, then marked failed (the next of that user then goes).
- 410 Gone disables the subscription; a redirect, a timeout, a refused address: a failed attempt, logged.
- A worker that dies holding deliveries leaves them leased: they are taken again once the lease ends.
"""

import http.client
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.events import sets, transport
from accounts.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription

logger = logging.getLogger("accounts.events")

GONE = "The subscriber answered 410 Gone: the subscription was disabled."
REDIRECTED = "The subscriber answered a redirect ({status}): redirects are not followed."
ANSWERED = "The subscriber answered {status}."
UNREACHABLE = "The subscriber could not be reached: {error}."
NO_SET = "This event type has no Security Event Token: nothing to send."
BATCH = 200


def webhook_id(event: OutboxEvent) -> str:
    """Return the event's idempotency key, the same on every retry and for every subscriber."""
    return f"evt_{event.pk}"


def webhook_body(event: OutboxEvent) -> str:
    """Return the Standard Webhooks JSON payload of an event."""
    data = {
        "id": event.pk,
        "sub": event.sub,
        "applications": event.applications,
        "before": event.before,
        "after": event.after,
        "at": event.at.timestamp(),
        "audit_event": event.audit_event_id,
    }
    return json.dumps({"type": event.type, "timestamp": event.at.isoformat(), "data": data}, sort_keys=True)


def signature(subscription: Subscription, msg_id: str, at: datetime, body: str) -> str:
    """Return the webhook-signature header: the secret's, and the previous one's during the overlap."""
    signatures = [Webhook(subscription.secret).sign(msg_id, at, body)]
    if subscription.previous_secret and subscription.previous_until and subscription.previous_until > at:
        signatures.append(Webhook(subscription.previous_secret).sign(msg_id, at, body))
    return " ".join(signatures)


def request_for(delivery: Delivery, *, pool_issuer: str) -> tuple[bytes, dict] | None:
    """Return (body, headers) to send for a delivery in its subscription's format, or None for nothing."""
    subscription, event = delivery.subscription, delivery.event
    if subscription.format in (Subscription.SET, Subscription.POLL):
        claims = sets.set_claims(event, audience=subscription.application.name, pool_issuer=pool_issuer)
        if claims is None:
            return None
        token = sets.set_sign(claims)
        return token.encode(), {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
    now, body, msg_id = timezone.now(), webhook_body(event), webhook_id(event)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(subscription, msg_id, now, body),
    }
    return body.encode(), headers


def backoff(attempts: int) -> timedelta:
    """Return the wait after the n-th failed attempt: the first delay doubled n-1 times, capped."""
    seconds = settings.PORTAL_EVENTS_BACKOFF_SECONDS * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(seconds, settings.PORTAL_EVENTS_BACKOFF_MAX_SECONDS))


def _earlier_pending():
    """Return the subquery 'an earlier delivery of the same subscription and user is still pending'."""
    return Delivery.objects.filter(
        subscription=OuterRef("subscription"), sub=OuterRef("sub"), status=Delivery.PENDING, id__lt=OuterRef("id")
    )


def deliveries_claim(*, limit: int = BATCH) -> list[Delivery]:
    """Lease the due deliveries that are first in their user's line; return them with what they send."""
    now = timezone.now()
    timeouts = settings.PORTAL_EVENTS_CONNECT_TIMEOUT + settings.PORTAL_EVENTS_READ_TIMEOUT
    with transaction.atomic():
        due = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.PENDING, next_at__lte=now, subscription__active=True)
            .exclude(subscription__format=Subscription.POLL)
            .exclude(lease_until__gt=now)
            .exclude(Exists(_earlier_pending()))
            .order_by("id")[:limit]
        )
        claimed = [row.pk for row in due]
        Delivery.objects.filter(pk__in=claimed).update(lease_until=now + timedelta(seconds=4 * timeouts))
    chosen = Delivery.objects.filter(pk__in=claimed).select_related("event", "subscription__application")
    return list(chosen.order_by("id"))


@dataclass(frozen=True)
class Sent:
    """What one try at sending gave: the status code (None when there was no answer), the error, the latency."""

    status: int | None
    error: str
    latency_ms: int


def transmit(url: str, body: bytes, headers: dict) -> Sent:
    """POST one delivery and say how it went; touches no database (it runs in the sender threads)."""
    started, status, error = time.monotonic(), None, ""
    try:
        status = transport.post(url, body, headers).status
        if 300 <= status < 400:
            error = REDIRECTED.format(status=status)
        elif not 200 <= status < 300:
            error = ANSWERED.format(status=status)
    except transport.Refused as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException) as exc:
        error = UNREACHABLE.format(error=exc.__class__.__name__)
    return Sent(status, error, int((time.monotonic() - started) * 1000))


def attempt_record(delivery: Delivery, sent: Sent) -> DeliveryAttempt:
    """Record one try and what its answer means for the delivery (done, retried, failed, disabled)."""
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery, status_code=sent.status, latency_ms=sent.latency_ms, error=sent.error[:500]
    )
    attempts = delivery.attempts + 1
    if not sent.error:
        _finish(delivery, status=Delivery.DELIVERED, attempts=attempts, code=sent.status)
        return attempt
    logger.warning("event delivery %s to %s failed: %s", delivery.pk, delivery.subscription.url[:200], sent.error)
    if sent.status == 410:
        Subscription.objects.filter(pk=delivery.subscription_id).update(active=False, disabled_reason=GONE)
        _finish(delivery, status=Delivery.FAILED, attempts=attempts, code=sent.status, error=GONE)
        return attempt
    next_at = timezone.now() + backoff(attempts)
    if next_at > delivery.event.at + timedelta(seconds=settings.PORTAL_EVENTS_RETRY_SECONDS):
        _finish(delivery, status=Delivery.FAILED, attempts=attempts, code=sent.status, error=sent.error)
        return attempt
    Delivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts, next_at=next_at, lease_until=None, last_status=sent.status, last_error=sent.error[:500]
    )
    return attempt


def _finish(delivery: Delivery, *, status: str, attempts: int = 0, code: int | None = None, error: str = "") -> None:
    """Mark a delivery delivered or failed."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=attempts or delivery.attempts,
        lease_until=None,
        last_status=code,
        last_error=error[:500],
        delivered_at=timezone.now() if status == Delivery.DELIVERED else None,
    )


def _prepared(batch: list[Delivery], pool_issuer: str) -> list[tuple[Delivery, tuple[bytes, dict]]]:
    """Return each delivery with what it sends; one whose format has nothing to send is marked done."""
    prepared = []
    for delivery in batch:
        request = request_for(delivery, pool_issuer=pool_issuer)
        if request is None:
            _finish(delivery, status=Delivery.DELIVERED, error=NO_SET)
        else:
            prepared.append((delivery, request))
    return prepared


def deliver_due(*, pool_issuer: str, stop=None, budget_seconds: float = 60) -> int:
    """Send the due deliveries in rounds until none is due or the budget is spent; return how many were tried.

    The database is read and written in this thread only; the sends of a round go out in parallel threads.
    """
    tried, deadline = 0, time.monotonic() + budget_seconds
    with ThreadPoolExecutor(max_workers=settings.PORTAL_EVENTS_SENDERS) as senders:
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            batch = deliveries_claim()
            if not batch:
                break
            todo = _prepared(batch, pool_issuer)
            results = senders.map(lambda item: transmit(item[0].subscription.url, *item[1]), todo)
            for (delivery, _), sent in zip(todo, results, strict=True):
                attempt_record(delivery, sent)
            tried += len(batch)
    return tried


def next_due() -> datetime | None:
    """Return when the next delivery that is first in its user's line may be sent, or None when none is pending.

    A delivery held by a worker counts from the end of its lease, so a run never spins on one it cannot take.
    """
    pending = Delivery.objects.filter(status=Delivery.PENDING, subscription__active=True)
    pending = pending.exclude(subscription__format=Subscription.POLL).exclude(Exists(_earlier_pending()))
    free = pending.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=timezone.now()))
    times = [free.aggregate(at=Min("next_at"))["at"], pending.aggregate(at=Min("lease_until"))["at"]]
    return min((at for at in times if at is not None), default=None)
