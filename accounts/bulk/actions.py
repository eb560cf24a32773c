"""Bulk actions on a selection of the directory: the single-user services, applied user by user.

A selection becomes a bulk job with one row per user. Small selections run at once in the request, large
ones in the background workers; both go through the same runner, pacing and progress page. Each row calls
the service of the single-user screen, which checks the actor's rule for that user and audits the attempt,
so a help-desk member's bulk role change skips (and reports) every staff account in the selection.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import cognito
from accounts.audit.attempt import Attempt, audited
from accounts.directory import selectors, services
from accounts.models import BulkJob, BulkRow
from accounts.rules import ends as end_rules
from accounts.rules import permissions, reasons, roles
from accounts.rules.errors import NOT_ALLOWED, InvalidInput


@dataclass(frozen=True)
class Action:
    """One bulk action: its name for people, the single-user rule each row obeys, whether it reads live first."""

    label: str
    rule: Callable
    audits: str  # the audit action of the single-user service each row calls
    reads_live: bool = False  # decided on the user's current state: read it live first
    needs: tuple[str, ...] = ()  # the parameters it takes from the action bar


ACTIONS = {
    "grant": Action(
        "Grant an application", permissions.can_grant, "access_grant", reads_live=True, needs=("application", "expires")
    ),
    "revoke": Action(
        "Revoke an application", permissions.can_grant, "access_revoke", reads_live=True, needs=("application",)
    ),
    "set_role": Action(
        "Set role and level", permissions.can_change_role, "role_change", reads_live=True, needs=("role", "level")
    ),
    "disable": Action("Disable (and sign out)", permissions.can_disable, "user_disable"),
    "sign_out": Action("Sign out everywhere", permissions.can_sign_out, "user_sign_out"),
}
BATCH = 1000

SAID = {
    "granted": "granted {application}",
    "already_held": "already held {application}",
    "revoked": "revoked {application}",
    "not_held": "did not hold {application}",
    "role_set": "role {before} → {after}; signed out everywhere",
    "role_same": "already held {after}",
    "disabled": "disabled and signed out everywhere",
    "signed_out": "signed out everywhere",
    "staff": "Not allowed: a staff account (only administrators change staff accounts).",
    "self": "Not allowed: your own account.",
}


def action_clean(action: dict) -> dict:
    """Return the action with its parameters checked, or raise InvalidInput."""
    name = action.get("name", "")
    if name not in ACTIONS:
        raise InvalidInput(f"Unknown bulk action {name!r}.")
    if name == "grant" and action.get("expires"):
        expires = services.valid_end(_when(action["expires"]), application=action.get("application") or "")
        return {
            **action_clean({"name": name, "application": action.get("application")}),
            "expires": expires.isoformat(),
        }
    if name in ("grant", "revoke"):
        (application,) = services.valid_applications([action.get("application") or "(none)"])
        return {"name": name, "application": application}
    if name == "set_role":
        role = services.valid_role(action.get("role") or "", action.get("level"))
        return {"name": name, "role": role.name, "level": role.level}
    return {"name": name}


def _when(value) -> datetime:
    """Return an end given as a datetime or as the ISO text a job stores."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def action_label(action: dict) -> str:
    """Return what the action does, for people: 'Grant crm', 'Grant crm until …', 'Set role B2', 'Disable'."""
    name = action.get("name")
    if name == "grant" and action.get("expires"):
        return f"Grant {action['application']} until {end_rules.end_label(_when(action['expires']))}"
    if name in ("grant", "revoke"):
        return f"{name.title()} {action['application']}"
    if name == "set_role":
        return f"Set role {roles.role_label(action['role'], action['level'])}"
    return ACTIONS[name].label if name in ACTIONS else name or ""


def selection_allowed(*, actor, name: str, request=None) -> None:
    """Refuse, audited as denied, a bulk action the actor's rule forbids."""
    if not permissions.can_bulk(actor, name):
        with audited(actor=actor, action="bulk_action", request=request, attempt=Attempt(after={"action": name})):
            raise PermissionDenied(NOT_ALLOWED)


def selection_job(*, actor, action: dict, queryset, reason: str = "", request=None) -> BulkJob:
    """Make a bulk job of the action for every user of the selection (nothing applied yet), with its reason."""
    selection_allowed(actor=actor, name=action.get("name", ""), request=request)
    action = action_clean(action)
    for audited_as in ("bulk_action", ACTIONS[action["name"]].audits):  # the job's start, then each row
        reason = reasons.reason_check(action=audited_as, reason=reason)
    with transaction.atomic():
        job = BulkJob.objects.create(kind=BulkJob.ACTION, created_by=actor, action=action, reason=reason)
        rows = []
        selection = queryset.prefetch_related(None).order_by("email").values_list("sub", "email").distinct()
        for number, (sub, email) in enumerate(selection.iterator(chunk_size=BATCH), 1):
            rows.append(BulkRow(job=job, number=number, sub=sub, email=email, plan=BulkRow.APPLY))
            if len(rows) == BATCH:
                BulkRow.objects.bulk_create(rows)
                rows = []
        BulkRow.objects.bulk_create(rows)
        job.total = job.rows.count()
        job.save(update_fields=["total"])
    return job


def _refused(actor, entry) -> str:
    """Explain why a rule refused this actor on this user."""
    reason = permissions.refusal_reason(actor, entry) if entry is not None else ""
    return SAID.get(reason) or NOT_ALLOWED


def row_apply(*, actor, action: dict, sub: str, reason: str = "") -> tuple[str, str]:
    """Apply the action to one user through its service, audited with the job's reason; return (outcome, message)."""
    name, entry = action["name"], selectors.entry_get(sub)
    if entry is not None and ACTIONS[name].reads_live and ACTIONS[name].rule(actor, entry):
        try:
            entry = selectors.user_live(sub).entry
        except cognito.UserNotFound:
            return BulkRow.FAILED, services.MESSAGES["vanished"]
    try:
        return _run(actor, action, sub, entry, reason)
    except PermissionDenied:
        return BulkRow.FAILED, _refused(actor, entry)


def _run(actor, action: dict, sub: str, entry, reason: str) -> tuple[str, str]:
    """Call the action's service for one user."""
    name = action["name"]
    if name in ("grant", "revoke"):
        if name == "grant":
            until = _when(action["expires"]) if action.get("expires") else None
            result = services.access_grant(
                actor=actor, sub=sub, application=action["application"], expires=until, reason=reason
            )
        else:
            result = services.access_revoke(actor=actor, sub=sub, application=action["application"], reason=reason)
        if result.failed:
            return BulkRow.FAILED, f"Could not {result.failed[0]} {result.failed[1]}: {result.failed[2]}"
        if result.sessions_error:
            return BulkRow.FAILED, result.sessions_error
        said = SAID[
            ("granted" if name == "grant" else "revoked")
            if result.changed
            else ("already_held" if name == "grant" else "not_held")
        ]
        return (BulkRow.UPDATED if result.changed else BulkRow.UNCHANGED), said.format(**action)
    if name == "set_role":
        before = entry.role_label if entry else ""
        change = services.role_change(
            actor=actor,
            sub=sub,
            role=action["role"],
            level=action["level"],
            shown=entry.role_key if entry else "",
            reason=reason,
        )
        if change.error:
            return BulkRow.FAILED, change.error
        after = change.role.label
        return (
            (BulkRow.UPDATED, SAID["role_set"].format(before=before, after=after))
            if change.changed
            else (BulkRow.UNCHANGED, SAID["role_same"].format(after=after))
        )
    if name == "disable":
        warning = services.user_disable(actor=actor, sub=sub, reason=reason)
        return (BulkRow.FAILED, warning) if warning else (BulkRow.UPDATED, SAID["disabled"])
    services.user_sign_out(actor=actor, sub=sub, reason=reason)
    return BulkRow.UPDATED, SAID["signed_out"]
