"""Reconcile the directory index with the whole pool.

One run lists the pool once (ListUsers, then ListUsersInGroup for each application group and the two
staff groups; ListGroups and ListUsersInGroup for each owner group, whose members are owners), then writes
the index in batches. It is safe on a schedule and from two machines at once:
- every batch runs in a transaction that locks its rows (FOR UPDATE where the database has it) and
  inserts with ignore_conflicts, so two runs never duplicate a row;
- a row refreshed by anyone after this run started (a live page, a portal write, another run) is left
  alone, since it is at least as fresh as what this run read;
- only rows this run did not see and that predate its start are removed, and only after the whole pool
  was listed without an error.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.audit import outbox
from accounts.directory import ends, revocations
from accounts.directory import index as directory
from accounts.models import DirectoryEntry, DirectoryGrant, DirectorySync
from accounts.rules import permissions, roles

BATCH = 500
PAGE = 60
REMOVED_OUTSIDE = "removed outside the portal (found by the sync)"


@dataclass
class PoolReading:
    """Everything one listing of the pool found."""

    users: dict[str, cognito.User] = field(default_factory=dict)
    applications: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    staff: dict[str, str] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    staff_members: dict[str, int] = field(default_factory=dict)
    groups_listed: int = 0  # the pool's groups, listed once to find the owner groups
    missing_groups: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    """What a run read and changed, and the Cognito calls it took."""

    started: datetime
    finished: datetime | None = None
    users: int = 0
    counts: Counter = field(default_factory=Counter)
    calls: int = 0
    minimum_calls: int = 0
    staff_calls: int = 0
    read_seconds: float = 0.0
    missing_groups: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return the counts in one line."""
        c = self.counts
        return (
            f"{self.users} users in Cognito: {c['added']} added, {c['updated']} updated, {c['removed']} removed, "
            f"{c['unchanged']} unchanged, {c['skipped']} refreshed meanwhile; "
            f"{self.calls} Cognito calls (minimum {self.minimum_calls} for the users and application groups, "
            f"+{self.staff_calls} for the staff and owner groups)"
        )


def minimum_calls(users: int, members: list[int]) -> int:
    """Return the fewest list calls that read a pool: ceil(users/60) + the sum of ceil(members/60)."""
    return max(1, math.ceil(users / PAGE)) + sum(max(1, math.ceil(count / PAGE)) for count in members)


def read_pool() -> PoolReading:
    """List every user, every application group's members and both staff groups' members."""
    reading = PoolReading(users={user.sub: user for user in cognito.users_list(page_size=PAGE)})
    for app in app_selectors.application_names():
        group = roles.group_for_application(app)
        try:
            members = [member.sub for member in cognito.users_in_group(group, page_size=PAGE)]
        except cognito.ResourceNotFound:
            reading.missing_groups.append(group)
            continue
        reading.members[group] = len(members)
        for sub in members:
            reading.applications[sub].add(app)
    _read_owners(reading)
    for standing, group in reversed(list(roles.staff_groups().items())):  # administrators last: they win
        try:
            members = [member.sub for member in cognito.users_in_group(group, page_size=PAGE)]
        except cognito.ResourceNotFound:
            reading.missing_groups.append(group)
            continue
        reading.staff_members[group] = len(members)
        reading.staff.update(dict.fromkeys(members, standing))
    return reading


def _read_owners(reading: PoolReading) -> None:
    """Mark the members of the owner groups as owners (a standing, never an application): ListGroups, then each."""
    groups = cognito.groups_list()
    reading.groups_listed = len(groups)
    for group in sorted(group.name for group in groups if roles.is_owner_group(group.name)):
        try:
            members = [member.sub for member in cognito.users_in_group(group, page_size=PAGE)]
        except cognito.ResourceNotFound:  # deleted since the listing: it makes no owner
            continue
        reading.staff_members[group] = len(members)
        reading.staff.update(dict.fromkeys(members, permissions.OWNER))


def _current_grants(subs: list[str]) -> dict[str, set[str]]:
    """Return the applications the index holds for these subs."""
    grants: dict[str, set[str]] = defaultdict(set)
    for sub, app in DirectoryGrant.objects.filter(entry_id__in=subs).values_list("entry_id", "application"):
        grants[sub].add(app)
    return grants


def _on_access_removed(sub: str) -> None:
    """React to access removed outside the portal (a revoked group, a disabled or deleted user).

    The one call site for what follows such a removal: the user's earlier tokens are void.
    """
    revocations.revocation_record(sub=sub, at=timezone.now(), reason="access removed outside the portal")


SYNC_ACTOR = "directory sync"
WATCHED = ("role", "level", "enabled")  # what an application hears of when the sync finds it changed


def _state(entry: DirectoryEntry, applications: set[str]) -> dict:
    """Return what an application hears of a user: role, enabled, applications."""
    return {"role": entry.role_key, "enabled": entry.enabled, "applications": sorted(applications)}


def _on_found_changed(sub: str, before: dict, after: dict) -> None:
    """Emit the applications' event for a change the sync found made outside the portal."""
    if before != after:
        outbox.outbox_emit(
            action="directory_sync",
            sub=sub,
            applications=set(before["applications"]) | set(after["applications"]),
            before=before,
            after=after,
            actor=SYNC_ACTOR,
        )


def apply_batch(users: list[cognito.User], reading: PoolReading, started: datetime) -> Counter:
    """Write one batch of users into the index; return what happened to each row."""
    counts: Counter = Counter()
    removed: set[str] = set()
    subs = [user.sub for user in users]
    with transaction.atomic():
        existing = {entry.sub: entry for entry in DirectoryEntry.objects.select_for_update().filter(sub__in=subs)}
        held = _current_grants(subs)
        new, changed, seen, grant_add, grant_remove = [], [], [], [], []
        for user in users:
            fields = directory.entry_fields(user, staff=reading.staff.get(user.sub, ""))
            wanted, entry = reading.applications.get(user.sub, set()), existing.get(user.sub)
            if entry is None:
                new.append(DirectoryEntry(sub=user.sub, synced_at=started, **fields))
                grant_add += [DirectoryGrant(entry_id=user.sub, application=app) for app in wanted]
                counts["added"] += 1
                continue
            if entry.synced_at >= started:
                counts["skipped"] += 1
                continue
            seen.append(user.sub)
            before = _state(entry, held[user.sub])
            diff = {name: value for name, value in fields.items() if getattr(entry, name) != value}
            for name, value in diff.items():
                setattr(entry, name, value)
            changed += [entry] if diff else []
            grant_add += [DirectoryGrant(entry_id=user.sub, application=app) for app in wanted - held[user.sub]]
            grant_remove += [(user.sub, app) for app in held[user.sub] - wanted]
            if held[user.sub] - wanted or (entry.enabled and not user.enabled):
                removed.add(user.sub)
            counts["updated" if diff or wanted != held[user.sub] else "unchanged"] += 1
            if set(diff) & set(WATCHED) or wanted != held[user.sub]:
                _on_found_changed(user.sub, before, _state(entry, wanted))
        DirectoryEntry.objects.bulk_create(new, ignore_conflicts=True)
        DirectoryEntry.objects.bulk_update(changed, directory.ENTRY_FIELDS)
        DirectoryGrant.objects.bulk_create(grant_add, ignore_conflicts=True)
        for sub, app in grant_remove:
            DirectoryGrant.objects.filter(entry_id=sub, application=app).delete()
        DirectoryEntry.objects.filter(sub__in=seen).update(synced_at=started)
    for sub in sorted(removed):
        _on_access_removed(sub)
    for sub, app in grant_remove:
        ends.grant_ends_close(sub=sub, applications=[app], reason=REMOVED_OUTSIDE)
    return counts


def remove_unseen(started: datetime) -> int:
    """Remove rows this run did not see and nobody refreshed since it started; return how many."""
    stale = DirectoryEntry.objects.filter(synced_at__lt=started)
    gone = {
        entry.sub: _state(entry, set(directory.entry_applications(entry))) for entry in stale.prefetch_related("grants")
    }
    with transaction.atomic():
        DirectoryGrant.objects.filter(entry__in=stale).delete()
        _, per_model = stale.delete()
        for sub, before in gone.items():
            _on_found_changed(sub, before, {"deleted": True, "applications": []})
    for sub in gone:
        _on_access_removed(sub)
        for end in ends.ends_open(sub):
            ends.end_close(end, reason=REMOVED_OUTSIDE)
    return per_model.get(DirectoryEntry._meta.label, 0)


def run(*, source: str, on_batch=None) -> SyncReport:
    """List the whole pool and reconcile the index with it; record and return the report.

    on_batch(), when given, is called before each batch is written (the scheduled sync renews its lease there).
    """
    report = SyncReport(started=timezone.now())
    with cognito.count_calls() as calls:
        reading = read_pool()
    report.read_seconds = (timezone.now() - report.started).total_seconds()
    report.users, report.missing_groups = len(reading.users), reading.missing_groups
    report.calls = sum(calls.values())
    report.minimum_calls = minimum_calls(report.users, list(reading.members.values()))
    report.staff_calls = max(1, math.ceil(reading.groups_listed / PAGE)) + sum(
        max(1, math.ceil(count / PAGE)) for count in reading.staff_members.values()
    )
    ordered = [reading.users[sub] for sub in sorted(reading.users)]  # one lock order for every machine
    for start in range(0, len(ordered), BATCH):
        if on_batch is not None:
            on_batch()
        report.counts += apply_batch(ordered[start : start + BATCH], reading, report.started)
    report.counts["removed"] = remove_unseen(report.started)
    report.finished = timezone.now()
    DirectorySync.objects.create(
        started=report.started,
        finished=report.finished,
        source=source[:254],
        users=report.users,
        calls=report.calls,
        **{key: report.counts[key] for key in ("added", "updated", "removed", "unchanged", "skipped")},
    )
    return report
