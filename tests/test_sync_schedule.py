"""The directory keeps itself fresh: the sync scheduled on the task workers, its lease, pace, audit and progress.

The worker is django-tasks-db's own (`db_worker`'s Worker), run in-process until no task is due; time moves
with a fake clock (Django's `timezone.now` and the pacer's clock), so nothing sleeps.
"""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import cognito, tasks
from accounts.applications import services as app_services
from accounts.directory import services, sync_lease
from accounts.models import AuditEvent, DirectoryEntry, DirectorySync, Revocation, SyncState
from tests import bulk as bulk_helpers
from tests.faults import cognito_down
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db


class FakeClock:
    """Wall time and the quota buckets' clock, moved only by advance() and the buckets' waits."""

    def __init__(self, monkeypatch):
        self.offset, self.mono, self.waits = timedelta(0), 0.0, []
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + self.offset)
        monkeypatch.setattr(cognito.buckets, "clock", self.monotonic)
        monkeypatch.setattr(cognito.client, "_pause", self.sleep)
        cognito.buckets_clear()  # the quota buckets start on this clock

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.offset += timedelta(seconds=seconds)
        self.mono += seconds

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch):
    return FakeClock(monkeypatch)


@pytest.fixture
def run_worker():
    """Run a db_worker in this process until no task is due; return how many tasks it ran."""
    return bulk_helpers.run_worker


def sync_events(outcome: str | None = None):
    events = AuditEvent.objects.filter(action="directory_sync")
    return events.filter(outcome=outcome) if outcome else events


def test_a_change_made_directly_in_cognito_reaches_the_api_after_the_scheduled_sync(
    admin_user, apps_pool, make_cognito_user, app_sign_in, clock, run_worker, settings
):
    settings.PORTAL_SYNC_INTERVAL_SECONDS = 300
    user = make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"])
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain
    token = app_sign_in("bella@example.com")["IdToken"]

    def check(token=token):
        body = json.dumps({"token": token, "application": "billing"})
        return Client().post(
            reverse("api_access_check"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
        )

    def allowed() -> bool:
        return check().json()["allowed"]

    assert tasks.sync_schedule(at_once=True)  # what make run does at start; nobody runs a sync by hand after
    assert run_worker() == 1 and allowed()
    cognito.user_remove_from_group(user.sub, "app-billing")  # in the console, outside the portal
    assert run_worker() == 0 and allowed()  # the next run is not due yet
    clock.advance(settings.PORTAL_SYNC_INTERVAL_SECONDS)
    assert run_worker() == 1
    assert check().status_code == HTTPStatus.UNAUTHORIZED  # the sync voided the tokens issued before it
    assert Revocation.objects.filter(sub=user.sub, reason="access removed outside the portal").exists()
    assert not DirectoryEntry.objects.get(sub=user.sub).grants.exists()  # a new token is answered allowed: false
    assert sync_events(AuditEvent.SUCCESS).count() == 2 and sync_events().first().actor == tasks.SCHEDULE
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # and the one after is already queued


def test_refresh_now_queues_the_sync_and_the_request_runs_none_of_it(
    helpdesk_client, make_cognito_user, clock, run_worker, settings
):
    # Paced at one call every 5 s, this pool's 13 list calls take a minute: longer than gunicorn's 30 s.
    settings.PORTAL_COGNITO_QUOTAS, settings.PORTAL_COGNITO_QUOTA_SHARE = (
        {**settings.PORTAL_COGNITO_QUOTAS, "UserList": 1},
        0.2,
    )
    make_cognito_user("eve@example.com")
    with cognito.count_calls() as calls:
        response = helpdesk_client.post(user_url("refresh"))
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == reverse(
        "admin:accounts_directoryentry_sync"
    )
    assert dict(calls) == {} and not sync_events().exists()
    assert not DirectoryEntry.objects.filter(email="eve@example.com").exists()
    assert AuditEvent.objects.get(action="directory_sync_request").actor == "desk@example.com"
    page = helpdesk_client.get(response["Location"]).content.decode()
    assert 'id="sync-queued"' in page and '<meta http-equiv="refresh" content="2">' in page

    assert run_worker() == 1  # the worker, not the request, runs it, paced
    assert sum(clock.waits) >= 60
    assert DirectoryEntry.objects.filter(email="eve@example.com").exists()
    assert sync_events(AuditEvent.SUCCESS).get().actor == tasks.REQUESTED.format(who="desk@example.com")
    page = helpdesk_client.get(response["Location"]).content.decode()
    assert "<meta http-equiv" not in page and "ended as <strong>success</strong>" in page


def test_refresh_now_twice_queues_one_run(helpdesk_client, pool):
    helpdesk_client.post(user_url("refresh"))
    helpdesk_client.post(user_url("refresh"))
    assert DBTaskResult.objects.filter(status="READY").count() == 1


def test_the_sync_is_paced_to_its_share_of_the_userlist_quota(pool, make_cognito_user, clock, settings):
    settings.PORTAL_COGNITO_QUOTAS, settings.PORTAL_COGNITO_QUOTA_SHARE = (
        {**settings.PORTAL_COGNITO_QUOTAS, "UserList": 10},
        0.4,
    )
    make_cognito_user("eve@example.com")
    with cognito.count_calls() as calls:
        services.directory_sync(actor="test")
    listed = calls["ListUsers"] + calls["ListUsersInGroup"]  # the UserList bucket's; ListGroups has its own
    assert len(clock.waits) == listed - 1  # the first call goes at once
    assert clock.waits == pytest.approx([cognito.quotas.interval(4)] * (listed - 1))


def test_a_failed_sync_is_audited_as_a_failure_and_shown(
    admin_client, make_cognito_user, clock, run_worker, no_backoff
):
    make_cognito_user("eve@example.com")
    tasks.sync_schedule(at_once=True)
    with cognito_down():
        assert run_worker() == 1
    event = sync_events().get()
    assert event.outcome == AuditEvent.FAILURE and "EndpointConnectionError" in event.error
    assert not DirectorySync.objects.exists() and not DirectoryEntry.objects.filter(email="eve@example.com").exists()
    state = SyncState.objects.get()
    assert state.outcome == sync_lease.FAILURE and not state.holder
    page = admin_client.get(user_url("changelist")).content.decode()
    assert 'id="sync-last-error"' in page and 'id="directory-stale"' in page


def test_a_sync_asked_to_stop_is_audited_as_interrupted_and_queued_again(pool, make_cognito_user, clock, monkeypatch):
    make_cognito_user("eve@example.com")
    stop = __import__("threading").Event()
    monkeypatch.setattr(tasks.bulk, "stop_on_signal", lambda: _yielding(stop))
    cognito.on_event("before-call.cognito-idp", lambda **kw: stop.set())  # Ctrl-C during the first call
    try:
        result = tasks.directory_sync_run.call()
    finally:
        cognito.reset_client()
    event = sync_events().get()
    assert event.outcome == AuditEvent.FAILURE and event.error.startswith("Interrupted before it finished")
    assert "error" in result and SyncState.objects.get().outcome == sync_lease.INTERRUPTED
    assert DBTaskResult.objects.get(status="READY").run_after <= timezone.now()  # carried on at the next start


def test_a_sync_cut_off_by_the_process_stopping_is_never_audited_as_success(pool, make_cognito_user, monkeypatch):
    make_cognito_user("eve@example.com")

    def killed(**_kwargs):
        raise SystemExit(1)  # gunicorn's worker timeout and a second Ctrl-C both end the worker like this

    monkeypatch.setattr("accounts.directory.sync.apply_batch", lambda *a, **k: killed())
    with pytest.raises(SystemExit):
        services.directory_sync(actor="test")
    event = sync_events().get()
    assert event.outcome == AuditEvent.FAILURE and "Interrupted" in event.error
    assert SyncState.objects.get().outcome == sync_lease.INTERRUPTED and not SyncState.objects.get().holder


def test_two_syncs_at_once_only_one_runs(pool, make_cognito_user, clock):
    make_cognito_user("eve@example.com")
    sync_lease.lease_take("another machine")
    with pytest.raises(sync_lease.SyncBusy):
        services.directory_sync(actor="test")
    assert tasks.directory_sync_run.call() == {
        "ran": False,
        "why": sync_lease.SAID["busy"].format(holder="another machine"),
    }
    assert not sync_events().exists() and not DirectorySync.objects.exists()
    seen = []

    def nested(**_kwargs):
        if not seen:
            seen.append(True)
            with pytest.raises(sync_lease.SyncBusy):
                services.directory_sync(actor="second")

    clock.advance(sync_lease.LEASE.total_seconds() + 1)  # the other machine died: its lease runs out
    cognito.on_event("before-call.cognito-idp", nested)
    try:
        services.directory_sync(actor="first")
    finally:
        cognito.reset_client()
    assert seen and [e.actor for e in sync_events()] == ["first"] and DirectorySync.objects.count() == 1


def test_the_directory_header_counts_the_rows_it_lists_and_shows_its_age(
    admin_client, admin_user, make_cognito_user, clock, settings
):
    make_cognito_user("eve@example.com")
    services.directory_sync(actor="test")
    services.user_invite(
        actor=admin_user, email="new@example.com", name="New Person", role="b", level=1, applications=[]
    )  # a row the last sync never saw
    page = admin_client.get(user_url("changelist")).content.decode()
    rows = DirectoryEntry.objects.count()
    assert f'<strong id="directory-rows">{rows}</strong>' in page and f"{rows} users" in page
    assert "synced <time" in page and 'id="directory-stale"' not in page
    clock.advance(2 * settings.PORTAL_SYNC_INTERVAL_SECONDS + 1)
    assert 'id="directory-stale"' in admin_client.get(user_url("changelist")).content.decode()


def test_cognito_sync_schedule_starts_one_chain(pool, run_worker, clock):
    from django.core.management import call_command

    call_command("cognito_sync", "--schedule")
    call_command("cognito_sync", "--schedule")
    ready = DBTaskResult.objects.filter(status="READY")
    chains = [tasks.directory_sync_run.module_path, tasks.expiry_sweep_run.module_path]  # the sync, the sweep
    assert sorted(ready.values_list("task_path", flat=True)) == sorted(chains)
    assert run_worker() == 2 and sorted(ready.values_list("task_path", flat=True)) == sorted(chains)


class _yielding:
    """A context manager yielding a given stop event (stands in for bulk.stop_on_signal)."""

    def __init__(self, stop):
        self.stop = stop

    def __enter__(self):
        return self.stop

    def __exit__(self, *exc):
        return False
