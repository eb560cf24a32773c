"""Writes on the events side: subscriptions (administrators), resends and replays, the SET signing key.

Every function is keyword-only with a required actor, checks `can_manage_applications` and is audited.
A subscription's signing secret is returned once, at creation and at rotation, and shown that once.
"""

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.audit.attempt import audited
from accounts.audit.outbox import event_types
from accounts.audit.record import actor_label
from accounts.events import sets, transport
from accounts.models import Application, Delivery, OutboxEvent, Subscription
from accounts.rules import permissions
from accounts.rules.errors import NOT_ALLOWED, InvalidInput, ServiceError

SAID = {
    "unknown_application": "Unknown application: {name}.",
    "unknown_subscription": "This subscription no longer exists.",
    "unknown_format": "Choose how the events are delivered.",
    "unknown_types": "Unknown event types: {types}. Choose from the listed types.",
    "unknown_delivery": "This delivery does not belong to this subscription.",
    "unknown_event": "No event #{event} was sent to this subscription.",
}


def _allowed(actor) -> None:
    """Refuse an actor who may not manage the registry."""
    if not permissions.can_manage_applications(actor):
        raise PermissionDenied(NOT_ALLOWED)


def secret_make() -> str:
    """Return a new Standard Webhooks signing secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _valid(url: str, types: list[str], format: str) -> tuple[str, list[str]]:
    """Return the URL and the types checked, or raise InvalidInput (a polled subscription has no URL)."""
    url = "" if format == Subscription.POLL else (url or "").strip()
    if format not in dict(Subscription.FORMATS):
        raise InvalidInput(SAID["unknown_format"])
    if format != Subscription.POLL and (problem := transport.url_problem(url)):
        raise InvalidInput(problem)
    unknown = sorted(set(types) - set(event_types()))
    if unknown:
        raise InvalidInput(SAID["unknown_types"].format(types=", ".join(unknown)))
    return url, sorted(set(types))


def _subscription(pk: int) -> Subscription:
    """Return the subscription, or raise ServiceError."""
    found = Subscription.objects.select_related("application").filter(pk=pk).first()
    if found is None:
        raise ServiceError(SAID["unknown_subscription"])
    return found


def subscription_create(
    *, actor, application: str, url: str, types: list[str], format: str = Subscription.WEBHOOK, request=None
) -> tuple[Subscription, str]:
    """Subscribe an application's endpoint to event types (none: all); return it and its secret, shown once."""
    with audited(actor=actor, action="subscription_create", request=request) as attempt:
        attempt.target = str(application)[:100]
        _allowed(actor)
        found = Application.objects.filter(name=application).first()
        if found is None:
            raise ServiceError(SAID["unknown_application"].format(name=application))
        url, types = _valid(url, types, format)
        secret = secret_make()
        label, _sub = actor_label(actor)
        subscription = Subscription.objects.create(
            application=found, url=url, event_types=types, format=format, secret=secret, created_by=label[:254]
        )
        attempt.after = {"subscription": subscription.pk, "url": url, "types": types, "format": format}
        return subscription, secret


def subscription_rotate(*, actor, pk: int, request=None) -> str:
    """Give a subscription a new secret; the old one keeps signing (both signatures) during the overlap."""
    with audited(actor=actor, action="subscription_rotate", request=request) as attempt:
        _allowed(actor)
        subscription = _subscription(pk)
        attempt.target = subscription.application.name
        secret = secret_make()
        until = timezone.now() + timedelta(seconds=settings.PORTAL_EVENTS_SECRET_OVERLAP_SECONDS)
        Subscription.objects.filter(pk=pk).update(
            secret=secret, previous_secret=subscription.secret, previous_until=until
        )
        attempt.after = {"subscription": pk, "previous_valid_until": until.isoformat()}
        return secret


def subscription_activate(*, actor, pk: int, active: bool, request=None) -> None:
    """Pause or resume a subscription (resuming one a 410 disabled); pending deliveries wait meanwhile."""
    with audited(actor=actor, action="subscription_activate", request=request) as attempt:
        _allowed(actor)
        subscription = _subscription(pk)
        attempt.target, attempt.before = subscription.application.name, {"active": subscription.active}
        Subscription.objects.filter(pk=pk).update(active=active, disabled_reason="")
        attempt.after = {"subscription": pk, "active": active}


def subscription_delete(*, actor, pk: int, request=None) -> None:
    """Delete a subscription and its delivery log."""
    with audited(actor=actor, action="subscription_delete", request=request) as attempt:
        _allowed(actor)
        subscription = _subscription(pk)
        attempt.target, attempt.before = subscription.application.name, {"url": subscription.url}
        subscription.delete()
        attempt.after = {"subscription": pk, "deleted": True}


def delivery_resend(*, actor, pk: int, delivery: int, request=None) -> None:
    """Send one delivery again, at once (its event keeps its id, so the subscriber can drop a repeat)."""
    with audited(actor=actor, action="delivery_resend", request=request) as attempt:
        _allowed(actor)
        subscription = _subscription(pk)
        attempt.target = subscription.application.name
        if not Delivery.objects.filter(pk=delivery, subscription=subscription).update(
            status=Delivery.PENDING, next_at=timezone.now(), lease_until=None
        ):
            raise ServiceError(SAID["unknown_delivery"])
        attempt.after = {"subscription": pk, "delivery": delivery}


def deliveries_replay(*, actor, pk: int, event: int, request=None) -> int:
    """Send again every event of the subscription's application from this one on; return how many."""
    with audited(actor=actor, action="deliveries_replay", request=request) as attempt:
        _allowed(actor)
        subscription = _subscription(pk)
        attempt.target = subscription.application.name
        if not Delivery.objects.filter(subscription=subscription, event_id=event).exists():
            raise ServiceError(SAID["unknown_event"].format(event=event))
        with transaction.atomic():
            count = Delivery.objects.filter(subscription=subscription, event_id__gte=event).update(
                status=Delivery.PENDING, next_at=timezone.now(), lease_until=None, attempts=0
            )
        attempt.after = {"subscription": pk, "from_event": event, "deliveries": count}
        return count


def signing_key_rotate(*, actor, request=None) -> str:
    """Make a new key for Security Event Tokens; the old one stays published a day. Return the new kid."""
    with audited(actor=actor, action="signing_key_rotate", request=request) as attempt:
        _allowed(actor)
        key = sets.key_create()
        attempt.after = {"kid": key.kid}
        return key.kid


def outbox_latest() -> int:
    """Return the id of the latest outbox event (0 when none)."""
    return OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
