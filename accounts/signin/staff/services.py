"""Writes of staff management: granting and removing administrator or help-desk standing, each audited.

A standing is membership of its Cognito group (PORTAL_ADMIN_GROUP, PORTAL_HELPDESK_GROUP), read live before
every change. Nobody changes their own standing, and the last enabled administrator is never removed. A
member whose standing falls loses their portal sessions at once (accounts/signin/standing.py).
"""

import contextlib
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from accounts import cognito
from accounts.audit.attempt import Attempt, audited
from accounts.models import Application, DirectoryEntry
from accounts.rules import permissions, reasons, roles
from accounts.rules.errors import NOT_ALLOWED, InvalidInput, ServiceError
from accounts.signin import standing

SAID = {
    "unknown_standing": "Choose administrator or help desk.",
    "no_such_user": "No user with the email {email} exists in Cognito. Invite them first.",
    "vanished": "This user no longer exists in Cognito. Nothing was changed.",
    "already": "{email} already holds {standing} standing: nothing was changed.",
    "not_held": "{email} does not hold {standing} standing: nothing was changed.",
}


@dataclass(frozen=True)
class StandingChange:
    """What a grant or removal did: the member, their standing before and after, whether sessions ended."""

    email: str
    before: str
    after: str
    sessions_ended: bool = False


def _allowed(actor, member) -> None:
    """Refuse an actor whose own standing has ended, who is no administrator, or who targets themselves."""
    if standing.actor_recheck(actor) or not permissions.can_change_standing(actor, member):
        raise PermissionDenied(NOT_ALLOWED)


def _group(name: str) -> str:
    """Return the Cognito group of a standing, or raise InvalidInput."""
    if name not in permissions.STANDING_LABELS:
        raise InvalidInput(SAID["unknown_standing"])
    return roles.staff_groups()[name]


def _call(function, *args):
    """Call the gateway; a user gone from Cognito becomes a ServiceError, Cognito busy or down passes through."""
    try:
        return function(*args)
    except (cognito.UserNotFound, cognito.InvalidParameter):
        raise ServiceError(SAID["vanished"]) from None


def _index_follow(sub: str, new: str):
    """Return the index write that records the member's new standing in the directory."""
    return lambda: DirectoryEntry.objects.filter(sub=sub).update(staff=new)


def staff_grant(*, actor, email: str, standing_name: str, request=None, reason: str = "") -> StandingChange:
    """Add the user with this email to the group of a standing (AdminAddUserToGroup)."""
    attempt = Attempt(target=(email or "").strip().lower()[:254])
    with audited(actor=actor, action="staff_grant", request=request, attempt=attempt, reason=reason):
        group = _group(standing_name)
        user = cognito.user_by_email(attempt.target)
        if user is None:
            raise ServiceError(SAID["no_such_user"].format(email=attempt.target))
        attempt.target_sub = user.sub
        _allowed(actor, user)
        attempt.reason = reasons.reason_check(action="staff_grant", reason=reason)
        groups = _call(cognito.user_groups, user.sub)
        before = permissions.standing_for_groups(groups)
        attempt.before = {"standing": before}
        label = permissions.STANDING_LABELS[standing_name].lower()
        if group in groups:
            raise ServiceError(SAID["already"].format(email=user.email, standing=label))
        _call(cognito.user_add_to_group, user.sub, group)
        after = permissions.standing_for_groups([*groups, group])
        attempt.after = {"standing": after, "granted": standing_name}
        attempt.record = _index_follow(user.sub, after)
        return StandingChange(email=user.email, before=before, after=after)


def staff_remove(*, actor, sub: str, standing_name: str, request=None, reason: str = "") -> StandingChange:
    """Remove a member from the group of a standing (AdminRemoveUserFromGroup); a fall ends their sessions."""
    attempt = Attempt(target_sub=sub)
    with audited(actor=actor, action="staff_remove", request=request, attempt=attempt, reason=reason):
        group = _group(standing_name)
        user = _call(cognito.user_get, sub)
        attempt.target = user.email
        _allowed(actor, user)
        attempt.reason = reasons.reason_check(action="staff_remove", reason=reason)
        groups = _call(cognito.user_groups, sub)
        before = permissions.standing_for_groups(groups)
        attempt.before = {"standing": before}
        if group not in groups:
            label = permissions.STANDING_LABELS[standing_name].lower()
            raise ServiceError(SAID["not_held"].format(email=user.email, standing=label))
        if standing_name == permissions.ADMIN:
            standing.administrator_keep(sub=sub, email=user.email)
        _call(cognito.user_remove_from_group, sub, group)
        after = permissions.standing_for_groups([name for name in groups if name != group])
        ended = after != before and standing.staff_sessions_end(sub=sub, standing=after)
        attempt.after = {"standing": after, "removed": standing_name, "sessions_ended": ended}
        attempt.record = _index_follow(sub, after)
        return StandingChange(email=user.email, before=before, after=after, sessions_ended=ended)


# --- Application owners: assigned and removed by administrators, from the registry ----------------------

OWNER_SAID = {
    "unknown_application": "There is no application named {name}.",
    "already_owner": "{email} already owns {name}: nothing was changed.",
    "not_owner": "{email} does not own {name}: nothing was changed.",
}


@dataclass(frozen=True)
class OwnerChange:
    """What assigning or removing an owner did: the member, the applications they own after, sessions ended."""

    email: str
    owned: tuple[str, ...]
    sessions_ended: bool = False


def _owner_attempt(*, actor, action: str, application: str, member, reason: str, attempt: Attempt) -> str:
    """Refuse an actor who may not change this owner, an unknown application or a bad reason; return the group."""
    attempt.target, attempt.target_sub = member.email, member.sub
    if standing.actor_recheck(actor) or not permissions.can_change_owner(actor, member):
        raise PermissionDenied(NOT_ALLOWED)
    attempt.reason = reasons.reason_check(action=action, reason=reason)
    if not Application.objects.filter(name=application).exists():
        raise ServiceError(OWNER_SAID["unknown_application"].format(name=application))
    return roles.owner_group(application)


def _group_ensure(group: str, application: str) -> None:
    """Create the application's owner group when Cognito has none yet."""
    with contextlib.suppress(cognito.GroupExists):
        cognito.group_create(group, f"Owners of {application}")


def owner_assign(*, actor, application: str, email: str, request=None, reason: str = "") -> OwnerChange:
    """Make the user with this email an owner of the application (its owner group; AdminAddUserToGroup)."""
    attempt = Attempt(target=(email or "").strip().lower()[:254], applications=[application])
    with audited(actor=actor, action="owner_assign", request=request, attempt=attempt, reason=reason):
        user = cognito.user_by_email(attempt.target)
        if user is None:
            raise ServiceError(SAID["no_such_user"].format(email=attempt.target))
        group = _owner_attempt(
            actor=actor, action="owner_assign", application=application, member=user, reason=reason, attempt=attempt
        )
        groups = _call(cognito.user_groups, user.sub)
        attempt.before = {"standing": permissions.standing_for_groups(groups), "owns": sorted(roles.owned_in(groups))}
        if group in groups:
            raise ServiceError(OWNER_SAID["already_owner"].format(email=user.email, name=application))
        _group_ensure(group, application)
        _call(cognito.user_add_to_group, user.sub, group)
        after = [*groups, group]
        attempt.after = {"standing": permissions.standing_for_groups(after), "owns": sorted(roles.owned_in(after))}
        attempt.record = _index_follow(user.sub, attempt.after["standing"])
        return OwnerChange(email=user.email, owned=tuple(attempt.after["owns"]))


def owner_remove(*, actor, application: str, sub: str, request=None, reason: str = "") -> OwnerChange:
    """Remove an owner of the application (AdminRemoveUserFromGroup); their portal sessions end at once."""
    attempt = Attempt(target_sub=sub, applications=[application])
    with audited(actor=actor, action="owner_remove", request=request, attempt=attempt, reason=reason):
        user = _call(cognito.user_get, sub)
        group = _owner_attempt(
            actor=actor, action="owner_remove", application=application, member=user, reason=reason, attempt=attempt
        )
        groups = _call(cognito.user_groups, sub)
        attempt.before = {"standing": permissions.standing_for_groups(groups), "owns": sorted(roles.owned_in(groups))}
        if group not in groups:
            raise ServiceError(OWNER_SAID["not_owner"].format(email=user.email, name=application))
        _call(cognito.user_remove_from_group, sub, group)
        left = [name for name in groups if name != group]
        after, owned = permissions.standing_for_groups(left), roles.owned_in(left)
        ended = standing.staff_sessions_end(sub=sub, standing=after, owned=owned)
        attempt.after = {"standing": after, "owns": sorted(owned), "sessions_ended": ended}
        attempt.record = _index_follow(sub, after)
        return OwnerChange(email=user.email, owned=tuple(sorted(owned)), sessions_ended=ended)
