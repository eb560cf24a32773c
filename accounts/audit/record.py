"""audit_record(): the one way an action writes its audit event."""

import contextlib
import ipaddress
import json
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from accounts.audit.outbox import outbox_from_audit
from accounts.models import AuditEvent
from accounts.rules.errors import NOT_ALLOWED
from accounts.rules.reasons import REASON_MAX

logger = logging.getLogger("accounts.audit")


def actor_label(actor: Any) -> tuple[str, str]:
    """Return (label, sub) for a user, or (str(actor), '') for a process name."""
    if hasattr(actor, "cognito_sub"):
        return actor.email or actor.get_username(), actor.cognito_sub or ""
    return str(actor), ""


def client_ip(request) -> str | None:
    """Return the client's address: REMOTE_ADDR, or the one the outermost trusted proxy saw."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR")
    count = settings.PORTAL_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if count and forwarded:
        # Each trusted proxy appends the address it saw, so only the last `count` entries are theirs; the
        # ones before come from the client and are never read.
        candidate = forwarded[-min(count, len(forwarded))]
        # A proxy that writes something else is misconfigured: keep the address the server saw.
        with contextlib.suppress(ValueError):
            address = str(ipaddress.ip_address(candidate))
    return address


def applications_cell(applications) -> str:
    """Return the applications an event concerned as ' billing crm ' (each found by ' name '), '' for none."""
    names = sorted(set(applications))
    return f" {' '.join(names)} "[:2048] if names else ""


def audit_record(
    *,
    actor: Any,
    action: str,
    outcome: str = AuditEvent.SUCCESS,
    target: str = "",
    target_sub: str = "",
    before: dict | None = None,
    after: dict | None = None,
    error: str = "",
    request=None,
    reason: str = "",
    applications=(),
) -> AuditEvent:
    """Write one audit event, with the reason or ticket the actor gave; never a password or a token in it."""
    label, sub = actor_label(actor)
    fields = {
        "actor": label[:254],
        "actor_sub": sub,
        "action": action,
        "target": target[:254],
        "target_sub": target_sub,
        "before": before or {},
        "after": after or {},
        "outcome": outcome,
        "error": error[:2000],
        "client_ip": client_ip(request),
        "reason": (reason or "").strip()[:REASON_MAX],
        "applications": applications_cell(applications),
    }
    try:
        with transaction.atomic():
            event = AuditEvent.objects.create(**fields)
            outbox_from_audit(event)  # the applications' event, in the same transaction
    except DatabaseError:
        # The database cannot take it (down, or the transaction broke): the log keeps the event whole.
        logger.error("audit event NOT STORED, the database refused it: %s", json.dumps(fields, sort_keys=True))
        raise
    logger.info("audit %s %s %s %s", label, action, target, outcome)
    if request is not None:
        request.portal_audited = True  # denial_record() audits a refused request only once
    return event


def denial_record(request) -> None:
    """Audit a POST the rules refused before any service audited it (a forged write), under its route's name."""
    if request.method != "POST" or getattr(request, "portal_audited", False) or not request.user.is_authenticated:
        return
    match = request.resolver_match
    route = (match.url_name or match.route) if match else request.path
    audit_record(
        actor=request.user,
        action=route.removeprefix("accounts_")[:64],
        outcome=AuditEvent.DENIED,
        target=request.path,
        error=NOT_ALLOWED,
        request=request,
    )
