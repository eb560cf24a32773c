"""Access that ends on time: grants with an end and temporary raises, refused at the instant by the API and
cognito_access, then made true in Cognito by the workers' sweep (clock controlled by time-machine)."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import cognito, tasks
from accounts.directory import expiry, services, sync
from accounts.models import AccessEnd, AuditEvent, DirectoryEntry, OutboxEvent, Revocation
from accounts.rules import ends as end_rules
from accounts.rules import roles
from accounts.rules.errors import InvalidInput
from cognito_access import Forbidden
from tests.bulk import run_worker
from tests.faults import cognito_down
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db

CHECK = reverse("api_access_check")


def check(key: str, token: str) -> dict:
    """Ask the access-check API about a token for billing; return the status and body."""
    response = Client().post(
        CHECK,
        json.dumps({"token": token, "application": "billing"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    return {"status": response.status_code, **response.json()}


@pytest.fixture
def carol(make_cognito_user, app_sign_in):
    """A contractor holding B2 and crm only, indexed."""
    user = make_cognito_user("carol@example.com", role=("b", 2), apps=["crm"])
    index_user(user)
    return user


def groups_of(sub: str) -> list[str]:
    """Return the user's groups read from Cognito itself."""
    return sorted(cognito.user_groups(sub))


def role_in_cognito(sub: str) -> list[roles.Role]:
    """Return the roles the user's attributes hold in Cognito itself."""
    return roles.held_roles(cognito.user_get(sub).attributes)


def settle_revocations(sub: str) -> None:
    """Move the user's revocations 10 s back (not the end notices), so a token issued now comes after them.

    A token really issued just after a sign-out may carry the same `iat` second, which the portal refuses.
    """
    Revocation.objects.filter(sub=sub, scope="").update(not_before=timezone.now() - timedelta(seconds=10))


def grant_until(admin_user, sub: str, minutes: int = 30, application: str = "billing"):
    """Grant billing until `minutes` from now; return the end."""
    end = timezone.now() + timedelta(minutes=minutes)
    services.access_grant(actor=admin_user, sub=sub, application=application, expires=end)
    return end


# --- The end of a grant ------------------------------------------------------------------------------------


def test_the_api_refuses_at_the_end_while_the_group_is_still_in_cognito(
    billing_key, carol, admin_user, app_sign_in, no_backoff
):
    end = grant_until(admin_user, carol.sub)
    token = app_sign_in("carol@example.com")["IdToken"]
    assert check(billing_key, token)["allowed"] is True
    with time_machine.travel(end - timedelta(seconds=1), tick=False):
        assert check(billing_key, token)["allowed"] is True
    with time_machine.travel(end, tick=False):
        answer = check(billing_key, token)
        assert answer["status"] == 200 and answer["allowed"] is False and "billing" not in answer["applications"]
    assert "app-billing" in groups_of(carol.sub)  # nothing has swept yet


def test_the_sweep_removes_the_group_signs_the_user_out_and_audits_it_as_expiry(
    billing_key, carol, admin_user, app_sign_in
):
    end = grant_until(admin_user, carol.sub)
    token = app_sign_in("carol@example.com")["IdToken"]
    granted = AuditEvent.objects.get(action="access_grant", target_sub=carol.sub)
    assert granted.after["expires"] == end.isoformat()
    with time_machine.travel(end + timedelta(seconds=5), tick=False):
        report = expiry.sweep()
        assert report.counts["ended"] == 1
        assert groups_of(carol.sub) == ["app-crm"]
        assert check(billing_key, token)["status"] == 401  # signed out everywhere: the old token is void
    event = AuditEvent.objects.get(action="access_expire", target_sub=carol.sub)
    assert event.actor == "expiry" and event.outcome == AuditEvent.SUCCESS
    assert event.after["granted_by"] == admin_user.email and event.after["revoked"] == ["billing"]
    assert event.after["sessions_revoked"] is True
    assert Revocation.objects.filter(sub=carol.sub, scope="", reason="access_expire").exists()
    assert AccessEnd.objects.get(sub=carol.sub).state == AccessEnd.ENDED
    assert list(DirectoryEntry.objects.get(sub=carol.sub).grants.values_list("application", flat=True)) == ["crm"]


def test_the_sweep_leaves_ends_that_have_not_come(carol, admin_user):
    grant_until(admin_user, carol.sub, minutes=60)
    assert expiry.sweep().counts["ended"] == 0
    assert "app-billing" in groups_of(carol.sub)


def test_cognito_access_following_the_feed_refuses_at_the_instant(following, carol, admin_user, app_sign_in):
    end = grant_until(admin_user, carol.sub)
    token = app_sign_in("carol@example.com")["IdToken"]
    following.revocations.poll()  # the end was published when it was set, ahead of it
    assert following.check(token, "billing").application == "billing"
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        with pytest.raises(Forbidden, match="access to billing has ended"):
            following.check(token, "billing")
        assert following.check(token, "crm").applications == ("crm",)


def test_a_moved_end_is_followed_by_the_api_and_cognito_access(following, billing_key, carol, admin_user, app_sign_in):
    end = grant_until(admin_user, carol.sub)
    later = end + timedelta(days=2)
    services.access_end_change(actor=admin_user, sub=carol.sub, application="billing", expires=later)
    token = app_sign_in("carol@example.com")["IdToken"]
    following.revocations.poll()
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert check(billing_key, token)["allowed"] is True
        assert following.check(token, "billing").application == "billing"
        assert expiry.sweep().counts["ended"] == 0
    event = AuditEvent.objects.get(action="access_extend")
    assert event.before["expires"] == end.isoformat() and event.after["expires"] == later.isoformat()


def test_removing_the_end_makes_the_grant_permanent(billing_key, carol, admin_user, app_sign_in):
    end = grant_until(admin_user, carol.sub)
    services.access_end_change(actor=admin_user, sub=carol.sub, application="billing", expires=None)
    token = app_sign_in("carol@example.com")["IdToken"]
    with time_machine.travel(end + timedelta(minutes=5), tick=False):  # the token is still valid
        assert check(billing_key, token)["allowed"] is True
        assert expiry.sweep().counts["ended"] == 0
    assert AuditEvent.objects.get(action="access_extend").after["expires"] is None


def test_a_revoke_before_the_end_closes_it(carol, admin_user):
    end = grant_until(admin_user, carol.sub)
    services.access_revoke(actor=admin_user, sub=carol.sub, application="billing")
    services.access_grant(actor=admin_user, sub=carol.sub, application="billing")  # again, permanently
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert expiry.sweep().counts["ended"] == 0
    assert "app-billing" in groups_of(carol.sub)
    assert AccessEnd.objects.get(sub=carol.sub).state == AccessEnd.CLOSED


# --- Faults and downtime -----------------------------------------------------------------------------------


def test_cognito_down_at_the_end_the_api_still_refuses_and_the_row_says_why_it_is_late(
    billing_key, carol, admin_user, app_sign_in, no_backoff
):
    end = grant_until(admin_user, carol.sub)
    token = app_sign_in("carol@example.com")["IdToken"]
    with time_machine.travel(end + timedelta(seconds=5), tick=False):
        with cognito_down():
            assert expiry.sweep().counts["late"] == 1
        assert check(billing_key, token)["allowed"] is False
        row = AccessEnd.objects.get(sub=carol.sub)
        assert row.state == AccessEnd.OPEN and row.attempts == 1 and "Cognito" in row.late_reason
        assert "app-billing" in groups_of(carol.sub)
        failed = AuditEvent.objects.get(action="access_expire")
        assert failed.outcome == AuditEvent.FAILURE and failed.actor == "expiry"
        assert expiry.sweep().counts["ended"] == 1  # Cognito is back: the next run finishes it
    assert groups_of(carol.sub) == ["app-crm"]


def test_a_worker_down_over_the_end_catches_up_when_it_starts(carol, admin_user, settings):
    end = grant_until(admin_user, carol.sub)
    raise_end = end + timedelta(hours=1)
    services.role_raise(actor=admin_user, sub=carol.sub, role="a", level=3, shown="b2", expires=raise_end)
    assert tasks.expiry_schedule() is True and tasks.expiry_schedule() is False  # one chain of runs
    with time_machine.travel(raise_end + timedelta(days=3), tick=False):  # no worker ran for three days
        run_worker(max_tasks=1)
    assert groups_of(carol.sub) == ["app-crm"]
    assert role_in_cognito(carol.sub) == [roles.Role("b", 2)]
    assert tasks._sweeps_waiting().count() == 1  # and the chain goes on


def test_the_sync_closes_an_end_whose_grant_was_removed_outside_the_portal(carol, admin_user):
    end = grant_until(admin_user, carol.sub)
    cognito.user_remove_from_group(carol.sub, "app-billing")  # the Cognito console, say
    sync.run(source="test")
    row = AccessEnd.objects.get(sub=carol.sub)
    assert row.state == AccessEnd.CLOSED and row.closed_reason == sync.REMOVED_OUTSIDE
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert expiry.sweep().counts["ended"] == 0


# --- Temporary raises --------------------------------------------------------------------------------------


def test_a_temporary_raise_returns_to_the_exact_previous_role_and_level(
    following, billing_key, carol, admin_user, app_sign_in
):
    services.access_grant(actor=admin_user, sub=carol.sub, application="billing")
    end = timezone.now() + timedelta(minutes=30)
    result = services.role_raise(actor=admin_user, sub=carol.sub, role="a", level=3, shown="b2", expires=end)
    assert result.sessions_revoked and role_in_cognito(carol.sub) == [roles.Role("a", 3)]
    raised = AuditEvent.objects.get(action="role_raise")
    assert raised.after == {"expires": end.isoformat(), "returns_to": "b2", "role": "a3", "sessions_revoked": True}
    settle_revocations(carol.sub)
    token = app_sign_in("carol@example.com")["IdToken"]
    following.revocations.poll()
    assert check(billing_key, token)["role"] == "a" and following.check(token, "billing").level == 3
    with time_machine.travel(end + timedelta(seconds=1), tick=False):
        answer = check(billing_key, token)
        assert (answer["role"], answer["level"]) == ("b", 2)  # at the instant, before any sweep
        access = following.check(token, "billing")
        assert (access.role, access.level) == ("b", 2)
        assert expiry.sweep().counts["ended"] == 1
    assert role_in_cognito(carol.sub) == [roles.Role("b", 2)]
    back = AuditEvent.objects.get(action="role_raise_end")
    assert back.actor == "expiry" and back.after["role"] == "b2" and back.before["granted_by"] == admin_user.email
    assert DirectoryEntry.objects.get(sub=carol.sub).role_key == "b2"


def test_a_raise_on_a_raise_still_returns_to_the_role_before_the_first(carol, admin_user):
    first = timezone.now() + timedelta(hours=2)
    services.role_raise(actor=admin_user, sub=carol.sub, role="a", level=1, shown="b2", expires=first)
    second = first + timedelta(hours=5)
    services.role_raise(actor=admin_user, sub=carol.sub, role="a", level=3, shown="a1", expires=second)
    assert AuditEvent.objects.filter(action="role_raise").first().after["returns_to"] == "b2"
    with time_machine.travel(first + timedelta(minutes=1), tick=False):
        assert expiry.sweep().counts["ended"] == 0  # the first end was replaced
    with time_machine.travel(second + timedelta(minutes=1), tick=False):
        assert expiry.sweep().counts["ended"] == 1
    assert role_in_cognito(carol.sub) == [roles.Role("b", 2)]


def test_a_permanent_change_during_a_raise_stands_after_its_end(carol, admin_user):
    end = timezone.now() + timedelta(hours=2)
    services.role_raise(actor=admin_user, sub=carol.sub, role="a", level=3, shown="b2", expires=end)
    services.role_change(actor=admin_user, sub=carol.sub, role="c", level=1, shown="a3")
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        assert expiry.sweep().counts["ended"] == 0
    assert role_in_cognito(carol.sub) == [roles.Role("c", 1)]
    assert AccessEnd.objects.get(sub=carol.sub).closed_reason == "replaced by a permanent change to C1"


def test_a_raise_of_a_user_with_no_role_returns_to_none(make_cognito_user, admin_user):
    user = make_cognito_user("norole@example.com", role=None)
    index_user(user)
    end = timezone.now() + timedelta(hours=1)
    services.role_raise(actor=admin_user, sub=user.sub, role="a", level=2, shown="none", expires=end)
    with time_machine.travel(end + timedelta(minutes=1), tick=False):
        expiry.sweep()
    assert role_in_cognito(user.sub) == [] and DirectoryEntry.objects.get(sub=user.sub).role_key == "none"


def test_a_raise_follows_the_role_change_rules(carol, helpdesk_user, make_cognito_user):
    services.role_raise(
        actor=helpdesk_user,
        sub=carol.sub,
        role="a",
        level=2,
        shown="b2",
        expires=timezone.now() + timedelta(hours=1),
    )
    assert role_in_cognito(carol.sub) == [roles.Role("a", 2)]
    staff = index_user(make_cognito_user("boss@example.com", role=("c", 1), staff="admin"))
    with pytest.raises(services.PermissionDenied):
        services.role_raise(
            actor=helpdesk_user,
            sub=staff.sub,
            role="a",
            level=3,
            shown="c1",
            expires=timezone.now() + timedelta(hours=1),
        )


# --- Bad input: a clear error, nothing changed -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("yesterday", end_rules.END_MALFORMED.split(" (")[0]),
        ("2020-01-01", "is not in the future"),
        ("2026-02-30", end_rules.END_MALFORMED.split(" (")[0]),
        ("0 days", "is not in the future"),
        ("5 fortnights", end_rules.END_MALFORMED.split(" (")[0]),
        ("20000 weeks", "days away"),
    ],
)
def test_an_end_the_portal_refuses(text, message):
    with pytest.raises(end_rules.EndError, match=message):
        end_rules.end_parse(text, now=timezone.now())


def test_ends_are_read_as_durations_dates_and_date_times_in_the_configured_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    now = timezone.now().replace(year=2026, month=12, day=1, hour=10, minute=0, second=0, microsecond=0)
    assert end_rules.end_parse("30 days", now=now) == now + timedelta(days=30)
    assert end_rules.end_parse("2026-12-31", now=now).isoformat() == "2026-12-31T23:00:00+00:00"
    assert end_rules.end_parse("2026-12-31 18:00", now=now).isoformat() == "2026-12-31T17:00:00+00:00"
    assert end_rules.end_parse("2026-12-31T18:00Z", now=now).isoformat() == "2026-12-31T18:00:00+00:00"
    assert end_rules.end_parse("", now=now) is None


def test_an_end_in_the_past_or_on_a_staff_group_changes_nothing(carol, admin_user):
    with pytest.raises(InvalidInput, match="is not in the future"):
        services.access_grant(
            actor=admin_user, sub=carol.sub, application="billing", expires=timezone.now() - timedelta(minutes=1)
        )
    with pytest.raises(InvalidInput, match="staff group"):
        services.access_grant(
            actor=admin_user, sub=carol.sub, application="portal-admins", expires=timezone.now() + timedelta(days=1)
        )
    assert groups_of(carol.sub) == ["app-crm"] and not AccessEnd.objects.exists()
    assert AuditEvent.objects.filter(action="access_grant", outcome=AuditEvent.FAILURE).count() == 2


def test_moving_the_end_of_an_application_not_held_is_refused(carol, admin_user):
    with pytest.raises(InvalidInput, match="does not hold billing"):
        services.access_end_change(
            actor=admin_user, sub=carol.sub, application="billing", expires=timezone.now() + timedelta(days=1)
        )
    with pytest.raises(InvalidInput, match="has no end to remove"):
        services.access_end_change(actor=admin_user, sub=carol.sub, application="crm", expires=None)


# --- The granter is told before the end --------------------------------------------------------------------


def test_the_granter_is_emailed_once_a_configured_time_before_the_end(carol, admin_user, settings):
    settings.PORTAL_EXPIRY_NOTICE_HOURS = 24
    end = grant_until(admin_user, carol.sub, minutes=60 * 48)
    assert expiry.notices_send() == 0
    with time_machine.travel(end - timedelta(hours=23), tick=False):
        assert expiry.notices_send() == 1 and expiry.notices_send() == 0
    (message,) = mail.outbox
    assert message.to == [admin_user.email] and "billing" in message.subject and "carol@example.com" in message.body
    assert end_rules.end_label(end) in message.body


def test_the_sweep_writes_the_expiry_to_the_outbox_for_the_application_it_ended(carol, admin_user):
    end = grant_until(admin_user, carol.sub)
    with time_machine.travel(end + timedelta(seconds=5), tick=False):
        expiry.sweep()
    event = OutboxEvent.objects.get(action="access_expire", sub=carol.sub)
    assert event.applications == ["billing"] and event.audit_event.action == "access_expire"
