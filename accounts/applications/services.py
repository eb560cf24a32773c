"""Writes of the application registry: each application is a Cognito group; each write is audited.

An application `billing` is the group `<PORTAL_APPLICATION_GROUP_PREFIX>billing` ("app-billing"): that
prefix is how the portal tells application groups from staff groups (settings refuse staff groups that
start with it). Input is validated before Cognito sees it; a refusal changes nothing.
"""

import contextlib
import re
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts import cognito
from accounts.applications import access_check, api_keys
from accounts.applications import selectors as app_selectors
from accounts.audit.attempt import Attempt, audited
from accounts.audit.record import actor_label
from accounts.directory import selectors, services
from accounts.models import ApiKey, Application, DirectoryGrant
from accounts.pool import bootstrap
from accounts.rules import permissions, reasons, roles, words
from accounts.rules.errors import NOT_ALLOWED, InvalidInput, ServiceError

NAME = re.compile(r"^[a-z][a-z0-9-]{0,47}$")
# arn:<partition>:iam::<12-digit account>:role/<optional path/><role name>, as IAM writes role ARNs.
ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
DESCRIPTION_MAX = 2048
PRECEDENCE_MAX = 2**31 - 1

SAID = {
    "bad_name": "The name must be 1 to 48 lower-case letters, digits or '-', starting with a letter.",
    "owner_group": "The group of {name} would be an application owner group ({group}): choose another name.",
    "exists": "An application named {name} already exists.",
    "group_exists": "Cognito already has a group {group}. Use “Refresh from Cognito” to add it to the registry.",
    "bad_description": "The description must be at most {max} characters, without control characters.",
    "bad_arn": "Enter an IAM role ARN like arn:aws:iam::123456789012:role/path/name, or leave it empty.",
    "bad_precedence": "Precedence must be a whole number from 0 to {max}, or empty.",
    "cannot_clear": "Cognito cannot remove a group's {what} once set: enter another value instead.",
    "unknown": "There is no application named {name}.",
    "group_gone": "Cognito has no group {group} any more. Use “Refresh from Cognito”, or delete the application.",
    "has_members": "{name} still has {members}. Type the application's name to delete it and "
    "remove everyone's access. Nothing was deleted.",
    "not_member": "That user does not hold {name} (any more).",
    "unknown_key": "There is no active key {key_id} for {name}.",
}


def _allowed(actor) -> None:
    """Refuse an actor who may not manage the registry."""
    if not permissions.can_manage_applications(actor):
        raise PermissionDenied(NOT_ALLOWED)


@contextlib.contextmanager
def _registry_write(*, actor, action: str, target: str, request, reason: str) -> Iterator[Attempt]:
    """Audit a write to the registry with its reason, refusing an actor who may not manage it (then the reason)."""
    with audited(actor=actor, action=action, request=request, reason=reason) as attempt:
        attempt.target = str(target)[:100]
        _allowed(actor)
        attempt.reason = reasons.reason_check(action=action, reason=reason)
        yield attempt


def _existing(name: str) -> Application:
    """Return the application, or raise ServiceError."""
    application = app_selectors.application_get(name)
    if application is None:
        raise ServiceError(SAID["unknown"].format(name=name))
    return application


def _group_call(function, *args, group: str, **kwargs):
    """Call a group operation of the gateway; Cognito's refusals become ServiceErrors, outages pass."""
    said = {
        cognito.GroupExists: SAID["group_exists"].format(group=group),
        cognito.ResourceNotFound: SAID["group_gone"].format(group=group),
    }
    return services.gateway_call(function, *args, said=said, **kwargs)


def _group_delete(group: str) -> None:
    """Delete the group; one already gone from Cognito leaves only the registry row to delete."""
    with contextlib.suppress(cognito.ResourceNotFound):
        cognito.group_delete(group)


# --- Validation -------------------------------------------------------------------------------------


def valid_name(value: str) -> str:
    """Return the application name, or raise InvalidInput."""
    name = (value or "").strip()
    if not NAME.match(name):
        raise InvalidInput(SAID["bad_name"])
    if roles.names_an_owner_group(name):
        raise InvalidInput(SAID["owner_group"].format(name=name, group=roles.group_for_application(name)))
    return name


def valid_description(value: str) -> str:
    """Return the description stripped, or raise InvalidInput."""
    text = (value or "").strip()
    if len(text) > DESCRIPTION_MAX or any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise InvalidInput(SAID["bad_description"].format(max=DESCRIPTION_MAX))
    return text


def valid_role_arn(value: str) -> str:
    """Return the IAM role ARN ('' for none), or raise InvalidInput."""
    arn = (value or "").strip()
    if arn and (len(arn) > 2048 or not ROLE_ARN.match(arn)):
        raise InvalidInput(SAID["bad_arn"])
    return arn


def valid_precedence(value) -> int | None:
    """Return the precedence (None when empty), or raise InvalidInput."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) > PRECEDENCE_MAX:
        raise InvalidInput(SAID["bad_precedence"].format(max=PRECEDENCE_MAX))
    return int(text)


def _state(application: Application) -> dict:
    """Return what the audit records about an application."""
    return {
        "description": application.description,
        "role_arn": application.role_arn,
        "precedence": application.precedence,
    }


# --- Applications -------------------------------------------------------------------------------


def application_create(
    *, actor, name: str, description: str = "", role_arn: str = "", precedence=None, request=None, reason: str = ""
) -> Application:
    """Create the application's Cognito group, then its registry row."""
    with _registry_write(
        actor=actor, action="application_create", target=name, request=request, reason=reason
    ) as attempt:
        name = valid_name(name)
        fields = {
            "description": valid_description(description),
            "role_arn": valid_role_arn(role_arn),
            "precedence": valid_precedence(precedence),
        }
        if app_selectors.application_get(name):
            raise ServiceError(SAID["exists"].format(name=name))
        group = roles.group_for_application(name)
        _group_call(cognito.group_create, group, group=group, **fields)
        client = _client_for(name)
        application = Application.objects.create(name=name, synced_at=timezone.now(), client_id=client, **fields)
        attempt.after = {"group": group, "client_id": client, **_state(application)}
        return application


def _client_for(name: str) -> str:
    """Return the ID of the application's own app client, creating it when the pool has none by its name."""
    wanted = roles.client_for_application(name)
    pool = cognito.pool_id()
    existing = {client_name: client_id for client_id, client_name in cognito.clients_list(pool)}
    if wanted in existing:
        return existing[wanted]
    return cognito.client_create(pool, **bootstrap.client_settings(wanted, portal=False)).id


def application_update(
    *, actor, name: str, description: str = "", role_arn: str = "", precedence=None, request=None, reason: str = ""
) -> Application:
    """Change the group's description, IAM role and precedence in Cognito, then in the registry."""
    with _registry_write(
        actor=actor, action="application_update", target=name, request=request, reason=reason
    ) as attempt:
        application = _existing(name)
        attempt.before = _state(application)
        fields = {
            "description": valid_description(description),
            "role_arn": valid_role_arn(role_arn),
            "precedence": valid_precedence(precedence),
        }
        for key, what in (("role_arn", "IAM role"), ("precedence", "precedence")):
            if fields[key] in ("", None) and getattr(application, key) not in ("", None):
                raise InvalidInput(SAID["cannot_clear"].format(what=what))
        group = roles.group_for_application(name)
        _group_call(cognito.group_update, group, group=group, **fields)
        for key, value in fields.items():
            setattr(application, key, value)
        application.synced_at = timezone.now()
        application.save()
        attempt.after = _state(application)
        return application


def application_delete(*, actor, name: str, confirmation: str = "", request=None, reason: str = "") -> int:
    """Delete the group (refused while it has members unless the name is typed); return the members it had."""
    with _registry_write(
        actor=actor, action="application_delete", target=name, request=request, reason=reason
    ) as attempt:
        application = _existing(name)
        group = roles.group_for_application(name)
        indexed = app_selectors.member_count(name)
        try:
            live = sum(1 for _ in cognito.users_in_group(group))
        except cognito.ResourceNotFound:
            live = 0  # the group is already gone: only the registry row is left to delete
        members = max(indexed, live)
        attempt.before = {**_state(application), "members": members}
        if members and (confirmation or "").strip() != name:
            raise ServiceError(
                SAID["has_members"].format(name=name, members=words.counted(members, "member")), members=members
            )
        services.gateway_call(_group_delete, group)
        with transaction.atomic():
            DirectoryGrant.objects.filter(application=name).delete()
            application.delete()
        attempt.after = {"deleted": True, "members_removed": members}
        return members


def application_member_remove(*, actor, name: str, sub: str, request=None, reason: str = "") -> services.AccessResult:
    """Remove one user's access to the application, through the same service as the user page."""
    _existing(name)
    entry = selectors.entry_get(sub)
    current = sorted(entry.grants.values_list("application", flat=True)) if entry else []
    if entry is not None and name not in current:
        raise ServiceError(SAID["not_member"].format(name=name))
    return services.access_set(
        actor=actor, sub=sub, applications=[app for app in current if app != name], request=request, reason=reason
    )


def applications_refresh(*, actor, request=None) -> dict[str, list[str]]:
    """Read the pool's application groups into the registry: add new ones, update the rest, list the missing."""
    with audited(actor=actor, action="applications_refresh", request=request) as attempt:
        _allowed(actor)
        groups = {}
        for group in cognito.groups_list():
            name = roles.application_for_group(group.name)
            if name and NAME.match(name):
                groups[name] = group
        result = {"added": [], "updated": [], "missing": []}
        now = timezone.now()
        with transaction.atomic():
            known = {application.name: application for application in Application.objects.select_for_update()}
            for name, group in sorted(groups.items()):
                fields = {
                    "description": group.description[:DESCRIPTION_MAX],
                    "role_arn": group.role_arn or "",
                    "precedence": group.precedence,
                }
                application = known.get(name)
                if application is None:
                    Application.objects.create(name=name, synced_at=now, **fields)
                    result["added"].append(name)
                elif _state(application) != fields:
                    Application.objects.filter(pk=application.pk).update(synced_at=now, **fields)
                    result["updated"].append(name)
            result["missing"] = sorted(set(known) - set(groups))
            result["clients"] = _clients_link(Application.objects.all())
        attempt.after = result
        return result


def _clients_link(applications) -> list[str]:
    """Store each application's own app client ID, found by its name; return the applications changed."""
    by_name = {client_name: client_id for client_id, client_name in cognito.clients_list(cognito.pool_id())}
    changed = []
    for application in applications:
        found = by_name.get(roles.client_for_application(application.name), "")
        if found and found != application.client_id:
            Application.objects.filter(pk=application.pk).update(client_id=found)
            changed.append(application.name)
    access_check.forget_keys()  # the keys cached here carry their application's client
    return sorted(changed)


# --- API keys -----------------------------------------------------------------------------------


def api_key_issue(*, actor, name: str, request=None, reason: str = "") -> api_keys.NewKey:
    """Issue a new API key for the application; the plain key is returned once and never stored."""
    with _registry_write(actor=actor, action="api_key_issue", target=name, request=request, reason=reason) as attempt:
        application = _existing(name)
        key = api_keys.make()
        label, _sub = actor_label(actor)
        ApiKey.objects.create(application=application, key_id=key.key_id, digest=key.digest, created_by=label[:254])
        attempt.after = {"key_id": key.key_id}
        return key


def api_key_revoke(*, actor, name: str, key_id: str, request=None, reason: str = "") -> None:
    """Revoke one of the application's keys at once."""
    with _registry_write(actor=actor, action="api_key_revoke", target=name, request=request, reason=reason) as attempt:
        revoked = ApiKey.objects.filter(application__name=name, key_id=key_id, revoked_at=None).update(
            revoked_at=timezone.now()
        )
        if not revoked:
            raise ServiceError(SAID["unknown_key"].format(key_id=key_id, name=name))
        access_check.forget_keys()
        attempt.after = {"key_id": key_id, "revoked": True}
