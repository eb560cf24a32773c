"""Writes: every change the portal makes in Cognito, each audited by the function that makes it.

Every function is keyword-only with a required actor (a staff User, or a process name for commands),
checks its permission rule, validates its input before Cognito sees it, and writes exactly one audit
event: success, failure (with the error) or denied. Passwords and tokens never reach the audit.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.audit.attempt import Attempt, audited
from accounts.audit.record import actor_label
from accounts.directory import ends, revocations, selectors, sync, sync_lease
from accounts.directory import index as directory
from accounts.models import AccessEnd, AuditEvent, DirectoryEntry
from accounts.rules import ends as end_rules
from accounts.rules import passwords, permissions, reasons, roles
from accounts.rules.errors import INTERRUPTED, NOT_ALLOWED, InvalidInput, ServiceError
from accounts.signin import standing

NAME_MAX = 256
EMAIL_MAX = 128  # the email is the username at creation, and Cognito's usernames are at most 128 characters

MESSAGES = {
    "not_in_directory": "This user is not in the directory. Search again or refresh the directory.",
    "vanished": "This user no longer exists in Cognito (deleted since the page was shown). Nothing was changed.",
    "stale_role": "The role changed since this page was shown: it is now {current}. "
    "Nothing was changed; check the new value and try again if still needed.",
    "raced_role": "Someone else changed this user's role while {new} was being written, and Cognito keeps "
    "whichever came last. Open the user again to see which it is, then change it if still needed.",
    "email_taken": "A user with the email {email} already exists.",
    "invalid_email": "Enter a valid email address.",
    "invalid_name": "Enter a name of at most {max} characters, without control characters.",
    "unknown_application": "Unknown application: {names}. Choose from the listed applications.",
    "needs_verified_email": "Cognito resets a password by sending a code to a verified email, and this user's "
    "email is not verified. Nothing was changed.",
    "confirm_delete": "Type the user's email address exactly to confirm the deletion. Nothing was deleted.",
    "cognito_refused": "Cognito refused the change: {error}",
    "invite_refused": "Cognito refused this invitation: {error}. Check the email address and the name; "
    "nothing was created.",
    "not_invited": "{email} already signed in (status {status}): only a user who never signed in can be "
    "invited again. Nothing was sent.",
    "not_allowed": NOT_ALLOWED,
    "interrupted": INTERRUPTED,
}
INVITATION_PENDING = "FORCE_CHANGE_PASSWORD"  # created by an administrator, never signed in


class NotInDirectory(ServiceError):
    """The target is not in the index."""


class UserVanished(ServiceError):
    """Cognito no longer has the target."""


class StaleRole(ServiceError):
    """The role changed since the form was shown."""


class EmailTaken(ServiceError):
    """A user with that email already exists; details['sub'] names them when known."""


class SyncCutShort(ServiceError):
    """The directory sync stopped before it finished (asked to stop, or its lease lost)."""


def _actor_confirm(actor) -> None:
    """Refuse an actor whose own standing, read live when due, has ended."""
    if standing.actor_recheck(actor):
        raise PermissionDenied(MESSAGES["not_allowed"])


def _target_standing(entry: DirectoryEntry) -> None:
    """Set the entry's staff column from the target's groups read live now (and the index with it)."""
    live = gateway_call(standing.standing_live, entry.sub)
    if live != entry.staff:
        DirectoryEntry.objects.filter(sub=entry.sub).update(staff=live)
        entry.staff = live


@contextmanager
def _on_user(*, actor, action: str, sub: str, rule, request=None, reason: str = "") -> Iterator[Attempt]:
    """Audit an attempt on an indexed user with its reason, refusing an unknown user, one the rule forbids,
    or a reason the action requires and lacks (after the rule, so a forbidden attempt is audited as denied).

    The rule is decided on live facts: the actor's own standing (when due) and, where it decides the rule
    (the actor is not an administrator), the target's staff standing.
    """
    entry = selectors.entry_get(sub)
    attempt = Attempt(target=entry.email if entry else "", target_sub=sub, entry=entry)
    with audited(actor=actor, action=action, request=request, attempt=attempt, reason=reason):
        if entry is None:
            raise NotInDirectory(MESSAGES["not_in_directory"])
        _actor_confirm(actor)
        if permissions.shield_applies(actor):
            _target_standing(entry)
        if not rule(actor, entry):
            raise PermissionDenied(MESSAGES["not_allowed"])
        attempt.reason = reasons.reason_check(action=action, reason=reason)
        yield attempt


def refusal(exc: cognito.CognitoError, said: dict | None = None) -> ServiceError:
    """Return the ServiceError for a Cognito refusal (`said` maps an exception class to its own message)."""
    for kind, message in (said or {}).items():
        if isinstance(exc, kind):
            return ServiceError(message)
    if isinstance(exc, cognito.UserNotFound):
        return UserVanished(MESSAGES["vanished"])
    if isinstance(exc, cognito.TooManyAttempts):
        return ServiceError(cognito.TOO_MANY_ATTEMPTS)
    return ServiceError(MESSAGES["cognito_refused"].format(error=str(exc) or exc.code))


def gateway_call(function, *args, said: dict | None = None, **kwargs):
    """Call the gateway; a refusal becomes a ServiceError (see refusal), Cognito busy or down passes through."""
    try:
        return function(*args, **kwargs)
    except cognito.CognitoFault:
        raise
    except cognito.CognitoError as exc:
        raise refusal(exc, said) from None


def sign_out_name(entry: DirectoryEntry) -> str:
    """Return the name to sign a user out by: the email they sign in with (the sub when they have none).

    Cognito accepts the email alias; the emulator only revokes sessions opened under the same string.
    """
    return entry.email or entry.sub


def _tokens_void(entry: DirectoryEntry, reason: str, *, standing_lost: bool = False) -> None:
    """Void the user's tokens issued until now (the API and the feed refuse them) and end their portal sessions."""
    revocations.revocation_record(sub=entry.sub, at=timezone.now(), reason=reason)
    standing.staff_sessions_end(sub=entry.sub, standing="" if standing_lost else None)


def _revoke_sessions(
    attempt: Attempt, entry: DirectoryEntry, done: str, reason: str, *, standing_lost: bool = False
) -> str:
    """Sign the user out everywhere after a write; return '' or a warning saying what `done` lacks.

    Their tokens are voided however Cognito answers: a failed sign-out leaves them refused by the API all the same.
    """
    attempt.after["sessions_revoked"] = False
    try:
        gateway_call(cognito.user_sign_out_everywhere, sign_out_name(entry))
    except (ServiceError, cognito.CognitoFault) as exc:
        warning = f"{done}, but revoking their sessions failed: {exc}"
        attempt.outcome = AuditEvent.FAILURE
        attempt.error = f"{attempt.error} {warning}".strip()
        return warning
    finally:
        _tokens_void(entry, reason, standing_lost=standing_lost)
    attempt.after["sessions_revoked"] = True
    return ""


# --- Validation: what Cognito (or its emulator) would accept but the portal refuses -----------------


def valid_email(value: str) -> str:
    """Return the email lower-cased, or raise InvalidInput."""
    email = (value or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(MESSAGES["invalid_email"]) from None
    if len(email) > EMAIL_MAX or any(char in email for char in '"\\ '):  # quoted local parts: not worth the risk
        raise InvalidInput(MESSAGES["invalid_email"])
    return email


def valid_name(value: str) -> str:
    """Return the name stripped, or raise InvalidInput (markup is allowed: it is always escaped)."""
    name = (value or "").strip()
    if not name or len(name) > NAME_MAX or any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise InvalidInput(MESSAGES["invalid_name"].format(max=NAME_MAX))
    return name


def valid_role(name: str, level) -> roles.Role:
    """Return the Role, or raise InvalidInput for an unknown role or a level out of range."""
    try:
        return roles.validate_role(name, level)
    except roles.RoleError as exc:
        raise InvalidInput(str(exc)) from None


def valid_end(end: datetime, *, application: str = "") -> datetime:
    """Return the end in UTC, or raise InvalidInput for one in the past, too far, or on a staff group."""
    if group := end_rules.staff_group_named(application):
        raise InvalidInput(end_rules.END_ON_STAFF.format(group=group))
    try:
        return end_rules.end_check(end, now=timezone.now())
    except end_rules.EndError as exc:
        raise InvalidInput(str(exc)) from None


def valid_applications(names: Iterable[str], known: Iterable[str] | None = None) -> list[str]:
    """Return the applications sorted, or raise InvalidInput naming those not `known` (default: the registry)."""
    names = set(names)
    unknown = sorted(names - set(app_selectors.application_names() if known is None else known))
    if unknown:
        raise InvalidInput(MESSAGES["unknown_application"].format(names=", ".join(unknown)))
    return sorted(names)


# --- Applications -------------------------------------------------------------------------------


@dataclass
class AccessResult:
    """What a grant/revoke submission did, change by change."""

    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    failed: tuple[str, str, str] | None = None  # (operation, application, error)
    not_attempted: list[tuple[str, str]] = field(default_factory=list)
    sessions_revoked: bool = False
    sessions_error: str = ""  # a revoke was applied but the sign-out that follows it failed
    fault: cognito.CognitoFault | None = None  # Cognito busy or down stopped the changes (a job stops on it)

    @property
    def changed(self) -> bool:
        """Return True when anything was applied."""
        return bool(self.granted or self.revoked)


def _apply_changes(
    entry_sub: str, changes: list[tuple[str, str]], result: AccessResult, *, all_or_report: bool = True
) -> None:
    """Apply (operation, application) changes in order, stopping at the first failure.

    With all_or_report, an outage or a vanished user before anything was applied is raised as is;
    otherwise every failure is reported in the result.
    """
    for index, (operation, app) in enumerate(changes):
        gateway = cognito.user_add_to_group if operation == "grant" else cognito.user_remove_from_group
        try:
            gateway_call(gateway, entry_sub, roles.group_for_application(app))
        except (ServiceError, cognito.CognitoFault) as exc:
            if all_or_report and isinstance(exc, cognito.CognitoFault | UserVanished) and not result.changed:
                raise  # nothing applied: the whole action failed, say so plainly
            message = exc.message if isinstance(exc, ServiceError) else f"{exc.code or 'error'}: {exc}"
            result.fault = exc if isinstance(exc, cognito.CognitoFault) else None
            result.failed = (operation, app, message)
            result.not_attempted = changes[index + 1 :]
            return
        (result.granted if operation == "grant" else result.revoked).append(app)


def _scope_check(attempt: Attempt, actor, entry: DirectoryEntry, changes: list[tuple[str, str]]) -> None:
    """Refuse the whole submission when any change is to an application the actor may not change (an owner's)."""
    attempt.applications = sorted({app for _operation, app in changes})
    refused = [app for app in attempt.applications if not permissions.can_change_application(actor, entry, app)]
    if refused:
        attempt.after = {"refused": refused}
        raise PermissionDenied(MESSAGES["not_allowed"])


def _access_update(
    *, actor, sub: str, action: str, decide, request=None, reason: str = "", note: dict | None = None, then=None
) -> AccessResult:
    """Apply decide(current applications) -> wanted applications, group by group; report and audit it.

    When anything was revoked, the user is then signed out everywhere, as after a role change. `note` is added
    to the audit's after; then(result, held), when given, runs with the index write (the ends of a grant).
    """
    with _on_user(
        actor=actor, action=action, sub=sub, rule=permissions.can_grant, request=request, reason=reason
    ) as attempt:
        result, entry = AccessResult(), attempt.entry
        current = set(directory.entry_applications(entry))
        attempt.before = {"applications": sorted(current)}
        wanted = decide(current)
        changes = [("grant", app) for app in sorted(wanted - current)]
        changes += [("revoke", app) for app in sorted(current - wanted)]
        _scope_check(attempt, actor, entry, changes)
        _apply_changes(sub, changes, result)  # raises only when nothing was applied
        held = sorted((current | set(result.granted)) - set(result.revoked))
        if result.changed or then is not None:
            attempt.record = lambda: _access_record(entry, result, action, lambda: then and then(result, held))
        attempt.after = {"applications": held, "granted": result.granted, "revoked": result.revoked, **(note or {})}
        if result.failed:
            attempt.outcome = AuditEvent.FAILURE
            attempt.after["not_applied"] = [f"{op} {app}" for op, app in [result.failed[:2], *result.not_attempted]]
            attempt.error = f"{result.failed[0]} {result.failed[1]} failed: {result.failed[2]}"
        if result.revoked:  # a revoked application must not keep working until the tokens expire
            result.sessions_error = _revoke_sessions(attempt, entry, f"Revoked {', '.join(result.revoked)}", action)
            result.sessions_revoked = not result.sessions_error
        return result


def _access_record(entry: DirectoryEntry, result: AccessResult, action: str, then) -> None:
    """Record the grants written, run `then`, and close the ends of what was revoked."""
    directory.grants_change(entry, granted=result.granted, revoked=result.revoked)
    then()
    ends.grant_ends_close(sub=entry.sub, applications=result.revoked, reason=f"revoked ({action})")


def access_set(*, actor, sub: str, applications: Iterable[str], request=None, reason: str = "") -> AccessResult:
    """Make the user's applications exactly these, group by group; report each change, audit them all."""
    wanted = set(applications)
    return _access_update(
        actor=actor,
        sub=sub,
        action="access_set",
        request=request,
        reason=reason,
        decide=lambda current: set(valid_applications(wanted)),
    )


def access_grant(
    *, actor, sub: str, application: str, expires: datetime | None = None, request=None, reason: str = ""
) -> AccessResult:
    """Grant one application, keeping the others; with `expires`, until then (an end on a held one is set)."""

    def decide(current: set[str]) -> set[str]:
        if expires is not None:
            valid_end(expires, application=application)
        return current | set(valid_applications([application]))

    def then(result: AccessResult, held: list[str]) -> None:
        if expires is not None and application in held:
            ends.grant_end_set(sub=sub, application=application, ends_at=expires, by=actor_label(actor))

    return _access_update(
        actor=actor,
        sub=sub,
        action="access_grant",
        request=request,
        reason=reason,
        decide=decide,
        note={"application": application, "expires": expires.isoformat()} if expires else None,
        then=then if expires else None,
    )


def access_revoke(*, actor, sub: str, application: str, request=None, reason: str = "") -> AccessResult:
    """Revoke one application, keeping the others."""
    return _access_update(
        actor=actor,
        sub=sub,
        action="access_revoke",
        request=request,
        reason=reason,
        decide=lambda current: current - set(valid_applications([application])),
    )


# --- Role ---------------------------------------------------------------------------------------


@dataclass
class RoleChange:
    """What a role change did."""

    role: roles.Role
    changed: bool = True
    sessions_revoked: bool = False
    error: str = ""


def role_change(*, actor, sub: str, role: str, level, shown: str, request=None, reason: str = "") -> RoleChange:
    """Write all role attributes in one call, then revoke the user's sessions; refuse a stale form.

    No lock is held while Cognito is called: the row is checked first, and the new role recorded only while
    the row still holds the role checked (compare and set), so a change made meanwhile is reported.
    """
    with _on_user(
        actor=actor, action="role_change", sub=sub, rule=permissions.can_change_role, request=request, reason=reason
    ) as attempt:
        new, entry = valid_role(role, level), attempt.entry
        new_key = f"{new.name}{new.level}"
        attempt.before = {"role": entry.role_key}
        if entry.role_key != shown:
            raise StaleRole(MESSAGES["stale_role"].format(current=entry.role_label), current=entry.role_key)
        if entry.role_key == new_key:
            attempt.after = {"role": new_key, "unchanged": True}
            return RoleChange(role=new, changed=False)
        replaced = f"replaced by a permanent change to {new}"  # a raise under way ends here: this change stays
        return _role_write(attempt, entry, new, "role_change", then=lambda: ends.raise_close(sub=sub, reason=replaced))


def _role_write(attempt: Attempt, entry: DirectoryEntry, new: roles.Role, action: str, *, then) -> RoleChange:
    """Write all role attributes in one call (a role of level 0: none held), record it, sign the user out."""
    attributes = roles.attributes_for(new) if new.level else dict.fromkeys(roles.role_attributes(), "0")
    gateway_call(cognito.user_update_attributes, entry.sub, attributes)
    attempt.after = {**attempt.after, "role": _role_key(new)}
    expected = (entry.role, entry.level)
    attempt.record = lambda: (_role_record(entry, new, expected=expected), then())
    if warning := _revoke_sessions(attempt, entry, "Role written", action):
        return RoleChange(role=new, error=warning)
    return RoleChange(role=new, sessions_revoked=True)


def _role_key(role: roles.Role) -> str:
    """Return a role as the audit and the forms write it: 'b2', or 'none' for no role."""
    return f"{role.name}{role.level}" if role.level else roles.role_word(roles.NO_ROLE)


def _role_record(entry: DirectoryEntry, new: roles.Role, *, expected: tuple[str, int]) -> None:
    """Record the role written, or raise StaleRole when the row changed since it was checked."""
    if not directory.entry_set_role(entry, new, expected=expected):
        raise StaleRole(MESSAGES["raced_role"].format(new=new.label))


# --- Account state ------------------------------------------------------------------------------


def _administrator_kept(entry: DirectoryEntry) -> None:
    """Refuse to take away the last enabled administrator, on the target's groups read live now."""
    _target_standing(entry)
    if entry.staff == permissions.ADMIN:
        gateway_call(standing.administrator_keep, sub=entry.sub, email=entry.email)


def user_disable(*, actor, sub: str, request=None, reason: str = "") -> str:
    """Disable a user, then sign them out everywhere; return a warning when the sign-out failed."""
    with _on_user(
        actor=actor, action="user_disable", sub=sub, rule=permissions.can_disable, request=request, reason=reason
    ) as attempt:
        entry = attempt.entry
        attempt.before = {"enabled": entry.enabled}
        _administrator_kept(entry)
        gateway_call(cognito.user_disable, sub)
        attempt.record = lambda: directory.entry_touch(entry, enabled=False)
        attempt.after = {"enabled": False}
        return _revoke_sessions(attempt, entry, "User disabled", "user_disable", standing_lost=True)


def user_enable(*, actor, sub: str, request=None, reason: str = "") -> None:
    """Enable a disabled user."""
    with _on_user(
        actor=actor, action="user_enable", sub=sub, rule=permissions.can_disable, request=request, reason=reason
    ) as attempt:
        attempt.before = {"enabled": attempt.entry.enabled}
        gateway_call(cognito.user_enable, sub)
        attempt.record = lambda: directory.entry_touch(attempt.entry, enabled=True)
        attempt.after = {"enabled": True}


def user_reset_password(*, actor, sub: str, request=None, reason: str = "") -> None:
    """Reset a user's password: Cognito sends a code to their verified email."""
    with _on_user(
        actor=actor,
        action="user_reset_password",
        sub=sub,
        rule=permissions.can_reset_password,
        request=request,
        reason=reason,
    ) as attempt:
        entry = attempt.entry
        attempt.before = {"status": entry.status}
        if not entry.email_verified:
            raise InvalidInput(MESSAGES["needs_verified_email"])
        try:
            gateway_call(cognito.user_reset_password, sub)
        except ServiceError as exc:
            if "verified" in exc.message:  # Cognito's own check, should the index be behind
                raise InvalidInput(MESSAGES["needs_verified_email"]) from None
            raise
        attempt.record = lambda: directory.entry_touch(entry, status="RESET_REQUIRED")
        attempt.after = {"status": "RESET_REQUIRED"}


def user_sign_out(*, actor, sub: str, request=None, reason: str = "") -> None:
    """Sign a user out everywhere (AdminUserGlobalSignOut)."""
    with _on_user(
        actor=actor, action="user_sign_out", sub=sub, rule=permissions.can_sign_out, request=request, reason=reason
    ) as attempt:
        try:
            gateway_call(cognito.user_sign_out_everywhere, sign_out_name(attempt.entry))
        finally:
            _tokens_void(attempt.entry, "user_sign_out")
        attempt.after = {"sessions_revoked": True}


def user_delete(*, actor, sub: str, confirmation: str, request=None, reason: str = "") -> None:
    """Delete a user from Cognito and the directory, once their email was typed to confirm."""
    with _on_user(
        actor=actor, action="user_delete", sub=sub, rule=permissions.can_delete, request=request, reason=reason
    ) as attempt:
        entry = attempt.entry
        attempt.before = {
            "email": entry.email,
            "role": entry.role_key,
            "applications": directory.entry_applications(entry),
        }
        if (confirmation or "").strip().lower() != entry.email:
            raise InvalidInput(MESSAGES["confirm_delete"])
        _administrator_kept(entry)
        gateway_call(cognito.user_delete, sub)
        _tokens_void(entry, "user_delete", standing_lost=True)
        attempt.record = entry.delete
        attempt.after = {"deleted": True}


# --- Invitation ---------------------------------------------------------------------------------


@dataclass
class Invitation:
    """A new user, the applications granted, and (embedded mode only) the temporary password."""

    entry: DirectoryEntry
    access: AccessResult
    temporary_password: str = field(default="", repr=False)


def _existing_sub(email: str) -> str:
    """Return the sub of the pool's user with this email (refreshing their row), or ''."""
    found = selectors.user_by_email_live(email)
    return found.entry.sub if found else ""


def user_invite(
    *,
    actor,
    email: str,
    name: str,
    role: str,
    level,
    applications: Iterable[str],
    expires: datetime | None = None,
    request=None,
    reason: str = "",
) -> Invitation:
    """Create a user with a role and applications (until `expires`, when given); Cognito sends the invitation."""
    attempt = Attempt(target=(email or "").strip().lower()[:254])
    with audited(actor=actor, action="user_invite", request=request, attempt=attempt, reason=reason):
        _actor_confirm(actor)
        if not permissions.can_invite(actor):
            raise PermissionDenied(MESSAGES["not_allowed"])
        attempt.reason = reasons.reason_check(action="user_invite", reason=reason)
        email, name = valid_email(email), valid_name(name)
        new, apps = valid_role(role, level), valid_applications(applications)
        expires = valid_end(expires) if expires is not None else None
        existing = selectors.entry_by_email(email)
        if existing:
            raise EmailTaken(MESSAGES["email_taken"].format(email=email), sub=existing.sub)
        temporary = passwords.generate() if settings.COGNITO_EMBEDDED else ""
        try:
            user = cognito.user_create(email, {"name": name, **roles.attributes_for(new)}, temporary_password=temporary)
        except cognito.UserExists:
            raise EmailTaken(MESSAGES["email_taken"].format(email=email), sub=_existing_sub(email)) from None
        except cognito.InvalidParameter as exc:
            raise InvalidInput(MESSAGES["invite_refused"].format(error=str(exc).rstrip("."))) from None
        attempt.target_sub = user.sub
        access = AccessResult()
        _apply_changes(user.sub, [("grant", app) for app in apps], access, all_or_report=False)
        entry = directory.entry_from_created(user, access.granted)
        attempt.after = {"email": email, "name": name, "role": f"{new.name}{new.level}", "applications": access.granted}
        if expires is not None and access.granted:
            attempt.after["expires"] = expires.isoformat()
            attempt.record = lambda: _ends_set(user.sub, access.granted, expires, actor)
        if access.failed:
            attempt.outcome = AuditEvent.FAILURE
            attempt.error = f"User created, but granting {access.failed[1]} failed: {access.failed[2]}"
        return Invitation(entry=entry, access=access, temporary_password=temporary)


def user_resend_invitation(*, actor, sub: str, request=None) -> Invitation:
    """Send the invitation again (AdminCreateUser RESEND) to a user who never signed in, read live first."""
    with _on_user(
        actor=actor, action="user_resend_invitation", sub=sub, rule=permissions.can_resend_invitation, request=request
    ) as attempt:
        entry = attempt.entry
        status = gateway_call(cognito.user_get, sub).status
        attempt.before = {"status": status}
        if status != INVITATION_PENDING:
            raise InvalidInput(MESSAGES["not_invited"].format(email=entry.email, status=status))
        temporary = passwords.generate() if settings.COGNITO_EMBEDDED else ""
        said = {cognito.UnsupportedUserState: MESSAGES["not_invited"].format(email=entry.email, status="confirmed")}
        gateway_call(cognito.user_resend_invitation, entry.username, temporary_password=temporary, said=said)
        attempt.after = {"status": INVITATION_PENDING, "invitation_resent": True}
        return Invitation(entry=entry, access=AccessResult(), temporary_password=temporary)


def _ends_set(sub: str, applications: list[str], expires: datetime, actor) -> None:
    """Give each of these held applications the same end."""
    for app in applications:
        ends.grant_end_set(sub=sub, application=app, ends_at=expires, by=actor_label(actor))


# --- The directory ------------------------------------------------------------------------------


def _sync_paced(*, pacer: sync_lease.Pacer, source: str, attempt: Attempt) -> sync.SyncReport:
    """Run the sync with its pacer, turning an interruption into SyncCutShort."""
    try:
        with cognito.quota_paced(), cognito.pace(pacer):
            report = sync.run(source=source, on_batch=pacer.renew)
    except sync_lease.SyncInterrupted as exc:
        attempt.after = {"interrupted": True, "calls": pacer.calls}
        raise SyncCutShort(MESSAGES["interrupted"].format(reason=exc)) from exc
    attempt.after = {
        "users": report.users,
        **{k: report.counts[k] for k in ("added", "updated", "removed")},
        "calls": report.calls,
    }
    return report


def directory_sync(*, actor, request=None, stop=None) -> sync.SyncReport:
    """Reconcile the directory index with the whole pool, as the one sync running, paced to its quota share.

    Raises sync_lease.SyncBusy (nothing attempted, nothing audited) when another sync holds the lease.
    """
    label = actor if isinstance(actor, str) else (actor.email or actor.get_username())
    if not isinstance(actor, str) and (standing.actor_recheck(actor) or not permissions.can_view_directory(actor)):
        with audited(actor=actor, action="directory_sync", request=request):
            raise PermissionDenied(MESSAGES["not_allowed"])
    holder = sync_lease.holder_name(label)
    sync_lease.lease_take(holder)
    pacer = sync_lease.Pacer(holder, stop=stop)
    # Until the run says otherwise, it was cut off (SystemExit, KeyboardInterrupt reach only `finally`).
    ended = {"outcome": sync_lease.INTERRUPTED, "error": MESSAGES["interrupted"].format(reason="the process stopped")}
    try:
        with audited(actor=actor, action="directory_sync", request=request) as attempt:
            report = _sync_paced(pacer=pacer, source=label, attempt=attempt)
            ended = {"outcome": sync_lease.SUCCESS, "error": ""}
            return report
    except Exception as exc:
        kind = sync_lease.INTERRUPTED if isinstance(exc, SyncCutShort) else sync_lease.FAILURE
        ended = {"outcome": kind, "error": getattr(exc, "message", "") or str(exc) or exc.__class__.__name__}
        raise
    finally:
        sync_lease.lease_release(holder, calls=pacer.calls, **ended)


# --- Refused forms ------------------------------------------------------------------------------


def input_refused(
    *, actor, action: str, message: str, rule, sub: str = "", target: str = "", request=None, reason: str = ""
) -> None:
    """Audit an attempt whose form refused the input as its service would (a denial first); raise it."""
    if sub:
        with _on_user(actor=actor, action=action, sub=sub, rule=rule, request=request, reason=reason):
            raise InvalidInput(message)
    with audited(actor=actor, action=action, request=request, attempt=Attempt(target=target[:254]), reason=reason):
        if not rule(actor, None):
            raise PermissionDenied(MESSAGES["not_allowed"])
        raise InvalidInput(message)


# --- Access that ends: ends on grants, temporary raises, and the sweep's side of them ------------------------

EXPIRY_ACTOR = "expiry"  # the sweep's name in the audit (the person who set the end is in the event)


def _end_iso(end: datetime | None) -> str | None:
    """Return an end as the audit writes it (ISO 8601, UTC), or None."""
    return end.isoformat() if end else None


def access_end_change(
    *, actor, sub: str, application: str, expires: datetime | None, request=None, reason: str = ""
) -> None:
    """Move the end of a held application, or remove it (None): no Cognito call, audited as access_extend."""
    with _on_user(
        actor=actor, action="access_extend", sub=sub, rule=permissions.can_grant, request=request, reason=reason
    ) as attempt:
        _scope_check(attempt, actor, attempt.entry, [("extend", application)])  # an owner: their applications only
        current = ends.open_end(sub, AccessEnd.GRANT, application)
        attempt.before = {"application": application, "expires": _end_iso(current and current.ends_at)}
        if expires is not None:
            expires = valid_end(expires, application=application)
        if application not in directory.entry_applications(attempt.entry):
            raise InvalidInput(end_rules.END_NOT_HELD.format(application=application))
        if expires is None and current is None:
            raise InvalidInput(end_rules.END_NONE.format(application=application))
        attempt.after = {"application": application, "expires": _end_iso(expires)}
        attempt.record = lambda: ends.grant_end_set(
            sub=sub, application=application, ends_at=expires, by=actor_label(actor)
        )


def access_expire(*, actor, end: AccessEnd) -> AccessResult:
    """Revoke an application whose end has come, as a person would (signed out, revocation recorded)."""
    note = {"application": end.application, "expires": _end_iso(end.ends_at), "granted_by": end.granted_by}
    return _access_update(
        actor=actor,
        sub=end.sub,
        action="access_expire",
        decide=lambda current: current - {end.application},
        note=note,
        then=lambda result, held: None if end.application in held else ends.end_mark_ended(end),
    )


def role_raise(
    *, actor, sub: str, role: str, level, shown: str, expires: datetime, request=None, reason: str = ""
) -> RoleChange:
    """Change the role until `expires`, then back to the role held before the first raise (from its record).

    A raise on a raise replaces the end and the role but keeps returning to the role before the first one;
    a permanent change during a raise closes the raise (role_change), so nothing is restored at its end.
    """
    with _on_user(
        actor=actor, action="role_raise", sub=sub, rule=permissions.can_change_role, request=request, reason=reason
    ) as att:
        new, entry = valid_role(role, level), att.entry
        expires = valid_end(expires)
        att.before = {"role": entry.role_key}
        if entry.role_key != shown:
            raise StaleRole(MESSAGES["stale_role"].format(current=entry.role_label), current=entry.role_key)
        if entry.role == DirectoryEntry.SEVERAL or entry.role_key == f"{new.name}{new.level}":
            raise InvalidInput(end_rules.RAISE_SAME.format(role=entry.role_label))
        earlier = ends.open_end(sub, AccessEnd.RAISE)
        previous = (earlier.previous_role, earlier.previous_level) if earlier else (entry.role, entry.level)
        att.after = {"expires": _end_iso(expires), "returns_to": _role_key(roles.Role(*previous))}

        def then() -> None:
            ends.raise_open(sub=sub, raised=new, previous=previous, ends_at=expires, by=actor_label(actor))

        return _role_write(att, entry, new, "role_raise", then=then)


def role_raise_end(*, actor, end: AccessEnd) -> RoleChange:
    """Return a raised user to the role recorded before the raise, as a person would (signed out)."""
    raised, previous = roles.Role(end.role, end.level), roles.Role(end.previous_role, end.previous_level)
    with _on_user(
        actor=actor, action="role_raise_end", sub=end.sub, rule=permissions.can_change_role, request=None
    ) as attempt:
        entry = attempt.entry
        attempt.before = {"role": entry.role_key, "expires": _end_iso(end.ends_at), "granted_by": end.granted_by}
        if entry.role_key != f"{raised.name}{raised.level}":  # changed outside the portal: that change stands
            raise StaleRole(MESSAGES["stale_role"].format(current=entry.role_label), current=entry.role_key)
        return _role_write(attempt, entry, previous, "role_raise_end", then=lambda: ends.end_mark_ended(end))
