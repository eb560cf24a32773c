"""manage.py cognito_sync: adds, updates and removes rows; safe on a schedule and from two machines."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import cognito
from accounts.directory import sync
from accounts.models import AuditEvent, DirectoryEntry, DirectoryGrant, DirectorySync
from accounts.rules import roles
from tests.faults import cognito_fault
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db


def run_command() -> str:
    """Run cognito_sync and return what it printed."""
    out = StringIO()
    call_command("cognito_sync", stdout=out)
    return out.getvalue()


def counts(line: str) -> dict[str, str]:
    """Return the key=value pairs of the command's output."""
    return dict(part.split("=", 1) for part in line.split())


def test_sync_adds_updates_and_removes(pool, make_cognito_user):
    alice = make_cognito_user("alice@example.com", role=("a", 1), apps=["billing", "crm"], name="Alice")
    bob = make_cognito_user("bob@example.com", role=("b", 2), apps=[])
    boss = make_cognito_user("boss@example.com", role=None, staff="admin")
    first = counts(run_command())
    assert (first["users"], first["added"], first["updated"], first["removed"]) == ("3", "3", "0", "0")
    row = DirectoryEntry.objects.get(sub=alice.sub)
    assert (row.email, row.name, row.role_key, row.status, row.enabled, row.staff) == (
        "alice@example.com",
        "Alice",
        "a1",
        "CONFIRMED",
        True,
        "",
    )
    assert sorted(row.grants.values_list("application", flat=True)) == ["billing", "crm"]
    assert DirectoryEntry.objects.get(sub=boss.sub).staff == "admin"

    # Changes made in Cognito directly, outside the portal.
    cognito.user_update_attributes(alice.sub, {**roles.attributes_for(roles.Role("c", 3)), "name": "Alice L."})
    cognito.user_remove_from_group(alice.sub, "app-crm")
    cognito.user_add_to_group(bob.sub, "app-hr")
    cognito.user_disable(bob.sub)
    cognito.user_delete(boss.sub)
    carol = make_cognito_user("carol@example.com")
    second = counts(run_command())
    assert (second["users"], second["added"], second["updated"], second["removed"], second["unchanged"]) == (
        "3",
        "1",
        "2",
        "1",
        "0",
    )
    row = DirectoryEntry.objects.get(sub=alice.sub)
    assert (row.name, row.name_key, row.role_key) == ("Alice L.", "alice l.", "c3")
    assert list(row.grants.values_list("application", flat=True)) == ["billing"]
    bob_row = DirectoryEntry.objects.get(sub=bob.sub)
    assert not bob_row.enabled and list(bob_row.grants.values_list("application", flat=True)) == ["hr"]
    assert not DirectoryEntry.objects.filter(sub=boss.sub).exists()
    assert not DirectoryGrant.objects.filter(entry_id=boss.sub).exists()
    assert DirectoryEntry.objects.filter(sub=carol.sub).exists()

    third = counts(run_command())  # a scheduled run with nothing new changes nothing
    assert (third["added"], third["updated"], third["removed"], third["unchanged"]) == ("0", "0", "0", "3")
    assert DirectorySync.objects.count() == 3
    assert AuditEvent.objects.filter(action="directory_sync", outcome="success").count() == 3


def test_sync_uses_the_minimum_of_list_calls(pool, make_cognito_user, settings):
    for n in range(130):  # 3 pages of users
        cognito.user_create(f"u{n:03}@example.com", {"name": f"U {n}"}, send_invitation=False)
        if n < 61:
            cognito.user_add_to_group(f"u{n:03}@example.com", "app-billing")  # 2 pages of members
    with cognito.count_calls() as calls:
        report = sync.run(source="test")
    apps = len(roles.application_names())
    assert report.minimum_calls == 3 + 2 + (apps - 1)
    assert calls["ListUsers"] == 3
    assert calls["ListUsersInGroup"] == 2 + (apps - 1) + 2  # the application groups, then the two staff groups
    assert report.calls == report.minimum_calls + report.staff_calls == sum(calls.values())
    assert DirectoryGrant.objects.filter(application="billing").count() == 61


def test_a_row_refreshed_after_the_run_started_is_neither_overwritten_nor_removed(pool, make_cognito_user):
    alice = make_cognito_user("alice@example.com", role=("a", 1))
    row = index_user(alice)
    late = make_cognito_user("late@example.com")
    reading = sync.read_pool()  # this run read the pool ...
    started = timezone.now() - timedelta(seconds=1)
    # ... then, before it writes, the portal changes alice (the reading still says a1) and creates a user.
    cognito.user_update_attributes(alice.sub, roles.attributes_for(roles.Role("b", 2)))
    index_user(alice)
    new = make_cognito_user("newer@example.com")
    index_user(new)
    result = sync.apply_batch(list(reading.users.values()), reading, started)
    removed = sync.remove_unseen(started)
    assert result["skipped"] == 1 and removed == 0
    assert DirectoryEntry.objects.get(sub=alice.sub).role_key == "b2"
    assert DirectoryEntry.objects.filter(sub__in=[new.sub, late.sub, row.sub]).count() == 3


def test_two_runs_at_once_leave_one_row_per_user(pool, make_cognito_user):
    users = [make_cognito_user(f"p{n}@example.com", apps=["crm"]) for n in range(3)]
    first, second = sync.read_pool(), sync.read_pool()
    started = timezone.now()
    sync.apply_batch(list(first.users.values()), first, started)
    sync.apply_batch(list(second.users.values()), second, started)  # the other machine, same moment
    assert DirectoryEntry.objects.count() == 3
    assert DirectoryGrant.objects.filter(application="crm").count() == 3
    assert sync.remove_unseen(started) == 0
    assert {row.sub for row in DirectoryEntry.objects.all()} == {user.sub for user in users}


def test_a_failed_listing_removes_nothing(pool, make_cognito_user, no_backoff):
    alice = make_cognito_user("alice@example.com")
    index_user(alice)
    cognito.user_delete(alice.sub)
    with (
        cognito_fault("TooManyRequestsException", operations={"ListUsersInGroup"}),
        pytest.raises(CommandError, match="nothing was removed"),
    ):
        run_command()
    assert DirectoryEntry.objects.filter(sub=alice.sub).exists()
    assert AuditEvent.objects.get(action="directory_sync").outcome == "failure"


def test_a_missing_application_group_is_reported(pool, make_cognito_user):
    cognito.group_delete("app-fleet")
    err = StringIO()
    call_command("cognito_sync", stdout=StringIO(), stderr=err)
    assert "group app-fleet does not exist" in err.getvalue()
