"""The outbox: every change that affects applications, written in the transaction of its audit event.

`audit_record` calls `outbox_from_audit` for each audit event; the events whose action is in EVENT_TYPES and
that changed something become an OutboxEvent, with one Delivery per subscription that wants it, all in the
same transaction. Nothing is sent here: once the transaction commits, `events_written` tells the task workers
(accounts/tasks.py) to deliver. A database that goes away before the commit loses the change and its event
together; one that goes away after it loses neither.
"""

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

from accounts.models import AuditEvent, Delivery, DirectoryGrant, OutboxEvent, Subscription

# The one mapping: audit action -> event type. The sync's changes found outside the portal are "directory_sync".
EVENT_TYPES = {
    "access_grant": "access.granted",
    "access_revoke": "access.revoked",
    "access_set": "access.changed",
    "access_extend": "access.extended",
    "access_expire": "access.expired",
    "role_change": "role.changed",
    "role_raise": "role.raised",
    "role_raise_end": "role.raise_ended",
    "user_disable": "user.disabled",
    "user_enable": "user.enabled",
    "user_delete": "user.deleted",
    "user_sign_out": "user.signed_out",
    "directory_sync": "directory.changed",
}
ACCESS_ACTIONS = {"access_grant", "access_revoke", "access_set", "access_extend", "access_expire"}
GROUP_WRITES = {"access_grant", "access_revoke", "access_set"}  # these say what they granted and revoked

# Sent (with no arguments worth reading) once a transaction that wrote events has committed.
events_written = Signal()


def event_types() -> list[str]:
    """Return every event type, in the mapping's order."""
    return list(dict.fromkeys(EVENT_TYPES.values()))


def _changed(action: str, outcome: str, after: dict) -> bool:
    """Return True when the attempt changed something an application must hear of.

    A success, unless it found nothing to change; a failure only when part of it was written (a role written
    whose sign-out failed, some of several applications granted).
    """
    if action in GROUP_WRITES:
        wrote = bool(after.get("granted") or after.get("revoked"))
        return wrote and outcome in (AuditEvent.SUCCESS, AuditEvent.FAILURE)
    if outcome == AuditEvent.SUCCESS:
        return not after.get("unchanged")
    return outcome == AuditEvent.FAILURE and bool(
        "sessions_revoked" in after or after.get("granted") or after.get("revoked")
    )


def _applications(action: str, sub: str, before: dict, after: dict) -> list[str]:
    """Return the applications a change affects: those whose access changed, else all the user holds."""
    held_before, held_after = set(before.get("applications", [])), set(after.get("applications", []))
    if action in ACCESS_ACTIONS:
        changed = (held_before ^ held_after) | set(after.get("granted", [])) | set(after.get("revoked", []))
        named = {str(side["application"]) for side in (before, after) if side.get("application")}  # one grant
        if changed or named:
            return sorted(changed | named)
    held = set(DirectoryGrant.objects.filter(entry_id=sub).values_list("application", flat=True))
    return sorted(held | held_before | held_after)


def outbox_from_audit(event: AuditEvent) -> OutboxEvent | None:
    """Write the outbox event of an audit event when its action is mapped and it changed something."""
    if event.action not in EVENT_TYPES or event.action == "directory_sync" or not event.target_sub:
        return None
    if not _changed(event.action, event.outcome, event.after or {}):
        return None
    return outbox_emit(
        action=event.action,
        sub=event.target_sub,
        applications=_applications(event.action, event.target_sub, event.before or {}, event.after or {}),
        before=event.before or {},
        after=event.after or {},
        actor=event.actor,
        audit_event=event,
    )


def outbox_emit(
    *,
    action: str,
    sub: str,
    applications: Iterable[str],
    before: dict,
    after: dict,
    actor: str,
    audit_event: AuditEvent | None = None,
) -> OutboxEvent:
    """Write one outbox event and a delivery for each subscription that wants it, in one transaction."""
    with transaction.atomic():
        event = OutboxEvent.objects.create(
            type=EVENT_TYPES[action],
            action=action,
            sub=sub,
            applications=sorted(set(applications)),
            before=before,
            after=after,
            actor=actor[:254],
            audit_event=audit_event,
        )
        deliveries = [
            Delivery(subscription=subscription, event=event, sub=sub, next_at=event.at, created=event.at)
            for subscription in subscriptions_wanting(event)
        ]
        Delivery.objects.bulk_create(deliveries)
        if deliveries:
            transaction.on_commit(lambda: events_written.send(sender=OutboxEvent))
    return event


def subscriptions_wanting(event: OutboxEvent) -> list[Subscription]:
    """Return the active subscriptions of the event's applications that want its type (none listed: all)."""
    found = Subscription.objects.filter(active=True, application__name__in=event.applications).order_by("id")
    return [subscription for subscription in found if _wants(subscription, event.type)]


def _wants(subscription: Subscription, event_type: str) -> bool:
    """Return True when the subscription asked for this type (or for every type)."""
    return not subscription.event_types or event_type in subscription.event_types
