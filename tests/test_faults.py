"""Faults the portal must survive: throttling storms, Cognito stopping mid-request, the database going away.

Each must give a clear answer, lose nothing (Cognito, the index and the audit agree on what happened) and
leave a complete audit. What moto cannot produce is simulated at the gateway (tests/faults.py) or on the
database connection, and the test names say so. Single faults on single requests are in test_health,
test_signin, test_sessions, test_directory_actions and test_directory_sync; these are the storms and the
faults in the middle of a request.
"""

import json
import logging
import textwrap
from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.messages import get_messages
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client
from django.urls import reverse

from accounts import cognito
from accounts.directory import selectors, services
from accounts.models import AuditEvent, DirectoryEntry
from accounts.rules import roles
from accounts.signin import flows
from tests.conftest import STAFF_PASSWORD
from tests.faults import cognito_down, cognito_fault, cognito_hung
from tests.support.staff import user_url
from tests.test_settings import django_process

BUSY, DOWN = b"Cognito is busy", b"The portal's database cannot be reached"
LATE = b"Cognito did not answer in time"


def said(response) -> list[str]:
    """Return the messages a redirecting response left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def assert_index_matches_cognito(sub: str) -> None:
    """Check that the directory row says what Cognito says: role, level, enabled, applications."""
    user, groups = cognito.user_get(sub), cognito.user_groups(sub)
    entry = selectors.entry_get(sub)
    held = roles.held_roles(user.attributes)
    assert len(held) == 1 and entry.role_key == f"{held[0].name}{held[0].level}"
    assert entry.enabled == user.enabled
    assert sorted(g.application for g in entry.grants.all()) == sorted(
        roles.application_for_group(group) for group in groups
    )


# --- Throttling storms ------------------------------------------------------------------------------


def storm_requests(sub: str) -> list[tuple[str, str, dict | None]]:
    """Return one round of a help-desk morning: open a user, then each kind of write."""
    return [
        ("get", user_url("change", sub), None),
        ("post", user_url("role", sub), {"role": "b", "level": "1", "shown": "a1"}),
        ("post", user_url("access", sub), {"applications": ["billing", "crm"], "confirm": "on"}),
        ("post", user_url("reset_password", sub), {"confirm": "on"}),
        ("post", user_url("sign_out", sub), {"confirm": "on"}),
        ("post", user_url("disable", sub), {"confirm": "on"}),
    ]


def test_a_throttling_storm_answers_every_request_busy_and_changes_nothing_simulated(admin_client, alice, no_backoff):
    requests = storm_requests(alice.sub) * 6
    with cognito_fault("TooManyRequestsException") as failed:
        for method, url, data in requests:
            response = getattr(admin_client, method)(url, data) if data is not None else admin_client.get(url)
            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE, url
            assert BUSY in response.content and response["Retry-After"] == "5"
        refreshed = admin_client.post(user_url("refresh"))  # queues a sync: no Cognito call, so not busy
        assert refreshed.status_code == HTTPStatus.FOUND and refreshed["Location"].endswith("/sync/")
    assert len(requests) <= len(failed) <= 3 * len(requests)  # retried, but never more than the attempts allow
    user = cognito.user_get(alice.sub)
    assert (user.attributes["custom:role_a"], user.enabled, cognito.user_groups(alice.sub)) == (
        "1",
        True,
        ["app-billing"],
    )
    assert_index_matches_cognito(alice.sub)
    assert DirectoryEntry.objects.count() == 1
    writes = [url for method, url, _ in requests if method == "post"]
    assert AuditEvent.objects.get(action="directory_sync_request").outcome == AuditEvent.SUCCESS
    events = AuditEvent.objects.exclude(action="directory_sync_request")
    assert events.count() == len(writes)
    assert {event.outcome for event in events} == {AuditEvent.FAILURE}
    assert all("TooManyRequestsException" in event.error for event in events)


def test_after_a_throttling_storm_the_next_request_works_at_once_simulated(admin_client, alice, no_backoff):
    with cognito_fault("TooManyRequestsException"):
        for _ in range(60):  # enough to spend botocore's whole retry quota
            admin_client.get(user_url("change", alice.sub))
    response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND
    assert said(response)[0].startswith("Role changed to B1.")
    assert_index_matches_cognito(alice.sub)


@pytest.mark.django_db
def test_a_throttling_storm_at_sign_in_locks_nobody_out_and_audits_each_attempt_simulated(
    client, admin_identity, settings, no_backoff
):
    settings.PORTAL_SIGNIN_MAX_FAILURES = 3
    login = reverse("accounts:login")
    with cognito_fault("TooManyRequestsException", operations={"AdminInitiateAuth"}):
        for _ in range(12):
            response = client.post(login, {"email": "admin@example.com", "password": STAFF_PASSWORD})
            assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
            assert flows.common.BUSY in [str(m) for m in response.context["messages"]]
            assert SESSION_KEY not in client.session
    response = client.post(login, {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("home")  # not locked out
    outcomes = list(AuditEvent.objects.filter(action="sign_in").order_by("id").values_list("outcome", "error"))
    assert outcomes == [(AuditEvent.FAILURE, "Cognito throttled")] * 12 + [(AuditEvent.SUCCESS, "")]


# --- Cognito stopping in the middle of a request ------------------------------------------------------


def only_event() -> AuditEvent:
    """Return the one audit event the test expects."""
    (event,) = AuditEvent.objects.all()
    return event


def test_cognito_stopping_midway_through_grants_and_revokes_reports_what_was_applied_simulated(
    admin_client, alice, no_backoff
):
    with cognito_down(after=1) as failed:  # alice holds billing: grant crm, grant hr, revoke billing
        response = admin_client.post(user_url("access", alice.sub), {"applications": ["crm", "hr"], "confirm": "on"})
    assert response.status_code == HTTPStatus.FOUND and failed == ["AdminAddUserToGroup"] * 3
    granted, refused = said(response)
    assert granted == "Granted crm."
    assert "could not be reached" in refused and refused.endswith("Not applied: grant hr, revoke billing.")
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", "app-crm"]
    assert_index_matches_cognito(alice.sub)
    event = only_event()
    assert (event.outcome, event.before) == (AuditEvent.FAILURE, {"applications": ["billing"]})
    assert event.after["granted"] == ["crm"] and event.after["applications"] == ["billing", "crm"]
    assert event.after["not_applied"] == ["grant hr", "revoke billing"] and "grant hr failed" in event.error


def test_cognito_stopping_after_a_role_write_reports_the_role_and_the_missing_sign_out_simulated(
    admin_client, alice, no_backoff
):
    with cognito_down(after=1):
        response = admin_client.post(user_url("role", alice.sub), {"role": "c", "level": "2", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND
    assert "could not be signed out" in said(response)[0]
    assert roles.held_roles(cognito.user_get(alice.sub).attributes) == [roles.Role("c", 2)]
    assert_index_matches_cognito(alice.sub)
    event = only_event()
    assert event.outcome == AuditEvent.FAILURE and event.after == {"role": "c2", "sessions_revoked": False}


def test_cognito_stopping_after_a_disable_reports_the_missing_sign_out_simulated(admin_client, alice, no_backoff):
    with cognito_down(after=2):  # the target's groups (read live: never the last administrator), the disable
        response = admin_client.post(user_url("disable", alice.sub), {"confirm": "on"})
    assert response.status_code == HTTPStatus.FOUND
    assert "revoking their sessions failed" in said(response)[0]
    assert not cognito.user_get(alice.sub).enabled
    assert_index_matches_cognito(alice.sub)
    event = only_event()
    assert event.outcome == AuditEvent.FAILURE and event.after == {"enabled": False, "sessions_revoked": False}


def test_cognito_stopping_after_a_revoke_reports_the_missing_sign_out_simulated(admin_client, alice, no_backoff):
    with cognito_down(after=1) as failed:
        response = admin_client.post(user_url("access", alice.sub), {"applications": [], "confirm": "on"})
    assert response.status_code == HTTPStatus.FOUND and failed == ["AdminUserGlobalSignOut"] * 3
    revoked, warning = said(response)
    assert revoked == "Revoked billing." and warning.startswith("Revoked billing, but revoking their sessions failed")
    assert cognito.user_groups(alice.sub) == []
    assert_index_matches_cognito(alice.sub)
    event = only_event()
    assert event.outcome == AuditEvent.FAILURE
    assert event.after == {"applications": [], "granted": [], "revoked": ["billing"], "sessions_revoked": False}


def test_cognito_stopping_after_an_invitation_shows_the_user_made_without_applications_simulated(
    admin_client, no_backoff
):
    data = {
        "email": "new@example.com",
        "name": "New Person",
        "role": "b",
        "level": "2",
        "applications": ["billing", "crm"],
    }
    with cognito_down(after=1):
        response = admin_client.post(user_url("add"), data)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "new@example.com was invited with role B2." in page
    assert 'id="invite-grant-failed">Could not grant billing' in page and "Not granted: billing, crm." in page
    created = next(cognito.users_list('email = "new@example.com"'))
    assert cognito.user_groups(created.sub) == []
    assert_index_matches_cognito(created.sub)
    event = only_event()
    assert event.outcome == AuditEvent.FAILURE and event.target_sub == created.sub
    assert event.after["applications"] == [] and "granting billing failed" in event.error


# --- A hung Cognito: one time budget per web request -------------------------------------------------------


@pytest.fixture
def production_timeouts(settings):
    """The production defaults of the gateway: 3 s to connect, 10 s to read, 4 attempts, an 8 s budget."""
    settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT, settings.COGNITO_MAX_ATTEMPTS = 3, 10, 4
    settings.COGNITO_REQUEST_BUDGET_SECONDS = 8
    return settings


def assert_within(hang, seconds: float) -> None:
    """Check that every attempt fitted the configured timeouts and that all of them fitted in `seconds`."""
    assert hang.attempts, "no budgeted attempt was made"
    for attempt in hang.attempts:
        assert 0 < attempt.connect_timeout <= settings_value("COGNITO_CONNECT_TIMEOUT")
        assert 0 < attempt.read_timeout <= settings_value("COGNITO_READ_TIMEOUT")
    assert len(hang.attempts) <= settings_value("COGNITO_MAX_ATTEMPTS")
    planned = sum(a.connect_timeout + a.read_timeout + a.backoff for a in hang.attempts)
    assert planned <= seconds and hang.waited <= seconds


def settings_value(name: str):
    """Return a setting as the test left it."""
    from django.conf import settings

    return getattr(settings, name)


@pytest.mark.parametrize(
    "method, name, data",
    [
        ("get", "change", None),
        ("post", "role", {"role": "b", "level": "1", "shown": "a1"}),
        ("post", "access", {"applications": ["billing", "crm"]}),
    ],
)
def test_a_hung_cognito_answers_the_503_page_within_the_request_budget_simulated(
    method, name, data, admin_client, alice, production_timeouts
):
    with cognito_hung() as hang:
        response = getattr(admin_client, method)(user_url(name, alice.sub), data or {})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and response["Retry-After"] == "30"
    assert LATE in response.content and b"may or may not have been made" in response.content
    assert_within(hang, 8)  # where botocore alone would have waited 4 x (3 + 10) s and slept between
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"  # the hung request changed nothing
    assert_index_matches_cognito(alice.sub)


@pytest.mark.django_db
def test_healthz_answers_within_two_seconds_when_cognito_hangs_simulated(client, pool, production_timeouts):
    with cognito_hung() as hang:
        response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "degraded", "database": "ok", "cognito": "no answer in time"}
    assert_within(hang, 2)


def test_a_role_change_that_timed_out_is_audited_with_the_reason_simulated(admin_client, alice, production_timeouts):
    with cognito_hung(operations={"AdminUpdateUserAttributes"}) as hang:
        response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and LATE in response.content
    assert_within(hang, 8)
    event = only_event()
    assert (event.action, event.outcome, event.before) == ("role_change", AuditEvent.FAILURE, {"role": "a1"})
    assert "did not answer in time" in event.error
    assert selectors.entry_get(alice.sub).role_key == "a1"


def test_background_work_keeps_botocores_attempts_and_timeouts_when_cognito_hangs_simulated(
    pool, no_backoff, production_timeouts
):
    with cognito_hung() as hang, pytest.raises(cognito.CognitoTimeout):
        cognito.pool_describe(cognito.pool_id())
    assert hang.attempts == []  # no budget outside a web request: botocore's own retries
    assert hang.waited == 4 * (3 + 10)


def test_throttling_in_a_web_request_sleeps_only_briefly_between_attempts_simulated(
    admin_client, alice, production_timeouts, monkeypatch
):
    from botocore.retries import standard

    botocore_sleeps = []
    monkeypatch.setattr(
        standard.ExponentialBackoff, "delay_amount", lambda self, context: botocore_sleeps.append(context) or 0
    )
    with cognito_hung(operations=set()) as hang, cognito_fault("TooManyRequestsException") as failed:
        response = admin_client.get(user_url("change", alice.sub))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and BUSY in response.content
    assert len(failed) == len(hang.attempts) == 4 and botocore_sleeps == []  # the gateway retried, not botocore
    assert len(hang.sleeps) == 3 and all(0 <= pause <= cognito.BACKOFF_MAX for pause in hang.sleeps)


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_cognito_is_called_for_role_and_access_writes(admin_user, alice):
    browser = Client()
    browser.force_login(admin_user)
    seen = []
    cognito.on_event(
        "before-call.cognito-idp", lambda model, **_: seen.append((model.name, connection.in_atomic_block))
    )
    browser.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    browser.post(user_url("access", alice.sub), {"applications": ["crm"], "confirm": "on"})
    writes = [(name, atomic) for name, atomic in seen if name.startswith("Admin") and name != "AdminGetUser"]
    assert {name for name, _ in writes} >= {
        "AdminUpdateUserAttributes",
        "AdminAddUserToGroup",
        "AdminRemoveUserFromGroup",
        "AdminUserGlobalSignOut",
    }
    assert [name for name, atomic in writes if atomic] == []
    entry = selectors.entry_get(alice.sub)
    assert entry.role_key == "b1" and [g.application for g in entry.grants.all()] == ["crm"]
    assert list(AuditEvent.objects.order_by("id").values_list("action", "outcome")) == [
        ("role_change", AuditEvent.SUCCESS),
        ("access_set", AuditEvent.SUCCESS),
    ]


def test_a_role_changed_by_someone_else_during_the_cognito_write_is_reported_not_overwritten(admin_client, alice):
    def meanwhile(**_kwargs):
        DirectoryEntry.objects.filter(sub=alice.sub).update(role="c", level=3)  # another member's change, recorded

    cognito.on_event("after-call.cognito-idp.AdminUpdateUserAttributes", meanwhile)
    response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "1", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND
    assert said(response) == [services.MESSAGES["raced_role"].format(new=roles.Role("b", 1))]
    assert selectors.entry_get(alice.sub).role_key == "c3"  # the other change is not overwritten
    event = only_event()
    assert (event.outcome, event.error) == (AuditEvent.FAILURE, services.MESSAGES["raced_role"].format(new="B1"))
    assert event.after == {"role": "b1", "sessions_revoked": True}


# --- Cognito's per-user limits: not "Cognito is busy" -------------------------------------------------------


@pytest.mark.parametrize("code", ["LimitExceededException", "TooManyFailedAttemptsException"])
def test_a_per_user_limit_on_a_reset_says_so_and_is_not_retried_or_the_busy_page_simulated(code, admin_client, alice):
    with cognito_fault(code, operations={"AdminResetUserPassword"}) as failed:
        response = admin_client.post(user_url("reset_password", alice.sub), {"confirm": "on"})
    assert response.status_code == HTTPStatus.FOUND and failed == ["AdminResetUserPassword"]
    assert said(response) == [cognito.TOO_MANY_ATTEMPTS]
    event = only_event()
    assert (event.action, event.outcome, event.error) == (
        "user_reset_password",
        AuditEvent.FAILURE,
        cognito.TOO_MANY_ATTEMPTS,
    )


@pytest.mark.django_db
def test_a_per_user_limit_on_forgot_password_keeps_the_form_with_the_message_simulated(client, pool):
    with cognito_fault("LimitExceededException", operations={"ForgotPassword"}):
        response = client.post(reverse("accounts:password_forgot"), {"email": "someone@example.com"})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert [str(m) for m in response.context["messages"]] == [cognito.TOO_MANY_ATTEMPTS]
    assert response.context["form"]["email"].value() == "someone@example.com"


# --- The database going away -----------------------------------------------------------------------------


@pytest.fixture
def database(db, monkeypatch):
    """A switch: while database['down'] is true, every query fails as if the database had gone away."""
    state = {"down": False}
    real = connection.cursor

    def cursor(*args, **kwargs):
        if state["down"]:
            raise OperationalError("simulated: the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(connection, "cursor", cursor)
    yield state
    state["down"] = False  # back before anything else tears down


def test_healthz_names_the_database_when_it_is_down_simulated(client, pool, database):
    database["down"] = True
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "degraded", "database": "unavailable: OperationalError", "cognito": "ok"}


@pytest.mark.parametrize(
    "method, name, data",
    [
        ("get", "changelist", None),
        ("get", "change", None),
        ("post", "role", {"role": "b", "level": "1", "shown": "a1"}),
    ],
)
def test_pages_without_their_database_answer_503_and_call_no_cognito_simulated(
    method, name, data, admin_user, alice, database
):
    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    url = user_url(name) if name == "changelist" else user_url(name, alice.sub)
    database["down"] = True
    with cognito.count_calls() as calls:
        response = getattr(browser, method)(url, data or {})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and response["Retry-After"] == "30"
    assert DOWN in response.content and b"Traceback" not in response.content
    assert not calls  # nothing reached Cognito, so nothing changed there
    database["down"] = False
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"


@pytest.mark.django_db(transaction=True)
def test_the_database_going_away_after_a_cognito_write_loses_no_audit_event_simulated(
    admin_user, alice, database, caplog
):
    browser = Client(raise_request_exception=False)
    browser.force_login(admin_user)
    cognito.on_event("after-call.cognito-idp.AdminUpdateUserAttributes", lambda **_: database.update(down=True))
    with caplog.at_level(logging.ERROR, logger="accounts.audit"):
        response = browser.post(user_url("role", alice.sub), {"role": "b", "level": "3", "shown": "a1"})
    database["down"] = False
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and DOWN in response.content
    assert b"may already have reached Cognito" in response.content
    assert roles.held_roles(cognito.user_get(alice.sub).attributes) == [roles.Role("b", 3)]  # the write happened
    assert not AuditEvent.objects.filter(action="role_change").exists()  # the database could not take it...
    (record,) = [r for r in caplog.records if "audit event NOT STORED" in r.getMessage()]
    logged = json.loads(record.getMessage().split(": ", 1)[1])  # ...so the log has it, whole
    assert logged["action"] == "role_change" and logged["target_sub"] == alice.sub
    assert logged["actor"] == "admin@example.com" and logged["before"] == {"role": "a1"}
    assert (logged["outcome"], logged["error"]) == (AuditEvent.FAILURE, "OperationalError")
    assert browser.get(user_url("change", alice.sub)).status_code == HTTPStatus.OK  # reads Cognito live
    assert_index_matches_cognito(alice.sub)  # and the index caught up: nothing lost


SQLITE_WRITERS = textwrap.dedent("""
    import threading, time
    from django.db import connection, transaction
    from accounts.models import DirectoryEntry
    from django.utils import timezone
    DirectoryEntry.objects.create(sub="x", username="x", email="x@example.com", status="CONFIRMED",
                                  synced_at=timezone.now())
    errors = []
    def writer():
        try:
            for _ in range(10):
                with transaction.atomic():
                    entry = DirectoryEntry.objects.select_for_update().get(sub="x")
                    time.sleep(0.005)  # a Cognito call inside the transaction
                    entry.level += 1
                    entry.save(update_fields=["level"])
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()
    threads = [threading.Thread(target=writer) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("errors", errors, "level", DirectoryEntry.objects.get(sub="x").level)
""")


def test_sqlite_writers_in_several_workers_wait_for_each_other_instead_of_failing(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert django_process(tmp_path, "migrate", DATABASE_URL=database).returncode == 0
    result = django_process(tmp_path, "shell", "-c", SQLITE_WRITERS, DATABASE_URL=database)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "errors [] level 40"  # no lock error, no lost update


# --- A task worker killed midway ---------------------------------------------------------------------------
# The real db_worker processes killed (SIGKILL) and stopped (SIGTERM) mid-import are in test_bulk_worker.py, and
# a row left half done after its audit is in test_import.py; here the worker dies in the worst place: after
# Cognito created the user, before the audit and the row were written.


def test_a_worker_killed_between_cognito_and_the_audit_leaves_a_complete_audit_simulated(admin_user):
    from accounts import tasks
    from accounts.bulk import engine as bulk
    from accounts.bulk import jobs
    from tests.bulk import csv_bytes, preview

    job = preview(admin_user, csv_bytes(*[f"person{n}@example.com,Person {n},b,1,crm" for n in range(3)]))
    jobs.job_start(actor=admin_user, job=job, background=False)
    row = bulk.row_claim(job, "dead-worker")  # claims line 2, creates the user in Cognito, and is killed
    cognito.user_create(row.data["email"], {"name": row.data["name"], **roles.attributes_for(roles.Role("b", 1))})
    type(row).objects.filter(pk=row.pk).update(lease_until=row.lease_until - bulk.timedelta(hours=1))
    result = tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk, worker="new-worker")
    assert (result["status"], result["created"], result["updated"]) == ("done", 2, 1)
    assert [cognito.user_groups(f"person{n}@example.com") for n in range(3)] == [["app-crm"]] * 3  # nothing lost
    invites = AuditEvent.objects.filter(action="user_invite").order_by("target")
    assert [event.target for event in invites] == [f"person{n}@example.com" for n in range(3)]  # one each
    taken_over = invites.get(target=row.data["email"])
    assert taken_over.outcome == AuditEvent.SUCCESS and taken_over.actor == admin_user.email
    assert taken_over.after["recorded_by"] == "new-worker, after taking the row over"
    assert AuditEvent.objects.filter(action="access_set", target=row.data["email"]).count() == 1  # the grant
