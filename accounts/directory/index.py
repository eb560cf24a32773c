"""The directory index: Cognito users turned into rows, and rows kept in step with what the portal writes.

It only touches the models; Cognito is read by its callers (selectors, services, sync).
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.models import DirectoryEntry, DirectoryGrant
from accounts.rules import permissions, roles

ENTRY_FIELDS = [
    "username",
    "email",
    "email_verified",
    "name",
    "name_key",
    "status",
    "enabled",
    "role",
    "level",
    "staff",
    "created",
    "modified",
]


def applications_in(groups: Iterable[str]) -> list[str]:
    """Return the registry's applications the groups grant, sorted."""
    known = set(app_selectors.application_names())
    return sorted(app for app in map(roles.application_for_group, groups) if app in known)


def standing_in(groups: Iterable[str]) -> str:
    """Return 'admin' or 'helpdesk' when the groups make a staff account, else ''."""
    return permissions.standing_for_groups(set(groups))


def role_columns(attributes: dict[str, str]) -> tuple[str, int]:
    """Return (role, level) for the index: ('', 0) for none, ('*', 0) for several."""
    held = roles.held_roles(attributes)
    if len(held) > 1:
        return DirectoryEntry.SEVERAL, 0
    return (held[0].name, held[0].level) if held else (DirectoryEntry.NONE, 0)


def entry_fields(user: cognito.User, *, staff: str) -> dict:
    """Return the index columns for a Cognito user (applications are kept apart, as grants)."""
    role, level = role_columns(user.attributes)
    return {
        "username": user.username,
        "email": user.email.lower(),
        "email_verified": user.attributes.get("email_verified", "").lower() == "true",
        "name": user.name,
        "name_key": user.name.casefold(),
        "status": user.status,
        "enabled": user.enabled,
        "role": role,
        "level": level,
        "staff": staff,
        "created": user.created,
        "modified": user.modified,
    }


def entry_store(user: cognito.User, groups: Iterable[str], *, at: datetime | None = None) -> DirectoryEntry:
    """Write a live reading of one user (attributes and groups) into the index; return the row."""
    groups = list(groups)
    with transaction.atomic():
        entry, _ = DirectoryEntry.objects.update_or_create(
            sub=user.sub, defaults={**entry_fields(user, staff=standing_in(groups)), "synced_at": at or timezone.now()}
        )
        grants_replace(entry, applications_in(groups))
    return entry


def grants_replace(entry: DirectoryEntry, applications: Iterable[str]) -> bool:
    """Make the entry's grants exactly these applications; return True when anything changed."""
    wanted = set(applications)
    current = set(entry.grants.values_list("application", flat=True))
    if wanted == current:
        return False
    entry.grants.filter(application__in=current - wanted).delete()
    DirectoryGrant.objects.bulk_create(
        [DirectoryGrant(entry=entry, application=app) for app in sorted(wanted - current)], ignore_conflicts=True
    )
    return True


def entry_applications(entry: DirectoryEntry) -> list[str]:
    """Return the entry's applications, sorted (uses prefetched grants when present)."""
    return sorted(grant.application for grant in entry.grants.all())


def entry_touch(entry: DirectoryEntry, **fields) -> None:
    """Update some columns of a row the portal just changed in Cognito, and mark it fresh."""
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.synced_at = timezone.now()
    entry.save(update_fields=[*fields, "synced_at"])


def grants_change(entry: DirectoryEntry, *, granted: Iterable[str], revoked: Iterable[str]) -> None:
    """Record applications the portal just granted and revoked (a change by someone else meanwhile is kept)."""
    DirectoryGrant.objects.bulk_create(
        [DirectoryGrant(entry=entry, application=app) for app in granted], ignore_conflicts=True
    )
    entry.grants.filter(application__in=list(revoked)).delete()
    entry_touch(entry)


def entry_set_role(entry: DirectoryEntry, role: roles.Role, *, expected: tuple[str, int] | None = None) -> bool:
    """Record a role the portal just wrote to Cognito; with `expected`, only while the row holds that role.

    The compare and set of a change made without a lock: False when someone else changed the row meanwhile
    (a row that already holds the new role, from a sync that saw the write, counts as recorded).
    """
    rows = DirectoryEntry.objects.filter(sub=entry.sub)
    if expected is not None:
        rows = rows.filter(Q(role=expected[0], level=expected[1]) | Q(role=role.name, level=role.level))
    now = timezone.now()
    if not rows.update(role=role.name, level=role.level, modified=now, synced_at=now):
        return False
    entry.role, entry.level, entry.modified, entry.synced_at = role.name, role.level, now, now
    return True


def entry_from_created(user: cognito.User, applications: Iterable[str]) -> DirectoryEntry:
    """Add a row for a user the portal just created."""
    groups = [roles.group_for_application(app) for app in applications]
    return entry_store(user, groups)
