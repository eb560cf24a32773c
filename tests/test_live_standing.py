"""Security decisions on live facts: the target's staff standing read from Cognito in the same request, the
actor's own standing re-read when due, and staff who lose their standing losing their sessions at once."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import cognito
from accounts.directory import services
from accounts.models import AuditEvent, DirectoryEntry, User
from accounts.rules import permissions, roles
from accounts.signin import flows, standing
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db

HOME = reverse("home")


@pytest.fixture
def outside_admin(make_cognito_user):
    """A user indexed as an ordinary user, then made an administrator directly in Cognito (the console)."""
    user = make_cognito_user("boss@example.com", role=("a", 1))
    index_user(user)
    cognito.user_add_to_group(user.sub, roles.staff_groups()["admin"])
    assert DirectoryEntry.objects.get(sub=user.sub).staff == ""  # the index does not know
    return user


def stale(user: User) -> None:
    """Make the user's last live reading of their standing older than PORTAL_STAFF_RECHECK_SECONDS."""
    User.objects.filter(pk=user.pk).update(staff_checked_at=timezone.now() - timedelta(hours=1))
    user.refresh_from_db()


@pytest.mark.parametrize(
    "action, data",
    [
        ("role", {"role": "c", "level": "3", "shown": "a1"}),
        ("reset_password", {"confirm": "on"}),
        ("sign_out", {"confirm": "on"}),
    ],
)
def test_helpdesk_on_a_staff_member_made_outside_the_portal_is_refused_and_audited_denied(
    action, data, helpdesk_client, outside_admin
):
    response = helpdesk_client.post(user_url(action, outside_admin.sub), data)
    assert response.status_code == HTTPStatus.FORBIDDEN
    account = cognito.user_get(outside_admin.sub)
    assert account.status == "CONFIRMED" and account.attributes["custom:role_a"] == "1"
    assert cognito.auth_password("boss@example.com", "User-Password-1!").signed_in  # not signed out, not reset
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target_sub) == (
        {"role": "role_change", "reset_password": "user_reset_password", "sign_out": "user_sign_out"}[action],
        AuditEvent.DENIED,
        outside_admin.sub,
    )
    assert DirectoryEntry.objects.get(sub=outside_admin.sub).staff == "admin"  # the live reading fixed the index


def test_a_bulk_role_change_skips_a_staff_member_made_outside_the_portal(helpdesk_user, outside_admin):
    from accounts.bulk import actions as bulk_actions

    outcome, message = bulk_actions.row_apply(
        actor=helpdesk_user, action={"name": "set_role", "role": "b", "level": 1}, sub=outside_admin.sub
    )
    assert (outcome, message) == ("failed", bulk_actions.SAID["staff"])
    assert cognito.user_get(outside_admin.sub).attributes["custom:role_b"] == "0"


def test_a_helpdesk_write_reads_the_targets_groups_in_the_same_request(helpdesk_client, alice):
    with cognito.count_calls() as calls:
        helpdesk_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1"})
    assert dict(calls) == {"AdminListGroupsForUser": 1, "AdminUpdateUserAttributes": 1, "AdminUserGlobalSignOut": 1}


def test_an_administrators_write_needs_no_reading_of_the_target_staff_or_not(admin_client, alice):
    with cognito.count_calls() as calls:
        admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1"})
    assert dict(calls) == {"AdminUpdateUserAttributes": 1, "AdminUserGlobalSignOut": 1}


# --- The actor's own standing -------------------------------------------------------------------------


def test_the_actors_standing_is_not_read_again_before_it_is_due(admin_client, admin_user, alice):
    with cognito.count_calls() as calls:
        assert admin_client.get(HOME).status_code == HTTPStatus.OK
    assert not calls


def test_a_due_actor_standing_is_read_live_at_the_next_request(admin_client, admin_user):
    stale(admin_user)
    with cognito.count_calls() as calls:
        assert admin_client.get(HOME).status_code == HTTPStatus.OK
    assert dict(calls) == {"AdminGetUser": 1, "AdminListGroupsForUser": 1}
    admin_user.refresh_from_db()
    assert timezone.now() - admin_user.staff_checked_at < timedelta(minutes=1)


def test_a_helpdesk_member_removed_outside_the_portal_is_refused_within_the_recheck(
    helpdesk_client, helpdesk_user, helpdesk_identity, alice
):
    other = Client()
    other.force_login(helpdesk_user)
    cognito.user_remove_from_group(helpdesk_identity.sub, roles.staff_groups()["helpdesk"])
    stale(helpdesk_user)
    response = helpdesk_client.post(user_url("role", alice.sub), {"role": "c", "level": "1", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("accounts:login")
    assert flows.common.SESSION_ENDED.format(why=standing.NOT_STAFF) in [
        str(m) for m in helpdesk_client.get(response.url).context["messages"]
    ]
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"
    assert other.get(HOME).status_code == HTTPStatus.FOUND and SESSION_KEY not in other.session  # every session
    assert permissions.standing_of(User.objects.get(pk=helpdesk_user.pk)) == ""


def test_a_bulk_job_of_an_actor_who_lost_standing_writes_nothing_and_is_audited_denied(
    helpdesk_user, helpdesk_identity, alice
):
    cognito.user_disable(helpdesk_identity.sub)
    stale(helpdesk_user)
    with pytest.raises(PermissionDenied):
        services.role_change(actor=helpdesk_user, sub=alice.sub, role="c", level=1, shown="a1")
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome) == ("role_change", AuditEvent.DENIED)


# --- Staff lose their power at once --------------------------------------------------------------------


def _signed_in_helpdesk(helpdesk_identity) -> Client:
    """Return a client signed in through the sign-in form as the help-desk member."""
    client = Client()
    client.post(reverse("accounts:login"), {"email": "desk@example.com", "password": "Staff-Password-1!"})
    assert SESSION_KEY in client.session
    return client


@pytest.mark.parametrize("write", ["disable", "delete", "sign_out"])
def test_a_staff_member_the_portal_disables_deletes_or_signs_out_is_refused_at_the_next_request(
    write, admin_user, helpdesk_identity, alice
):
    desk = _signed_in_helpdesk(helpdesk_identity)
    key = desk.session.session_key
    index_user(helpdesk_identity)
    if write == "disable":
        services.user_disable(actor=admin_user, sub=helpdesk_identity.sub)
    elif write == "delete":
        services.user_delete(actor=admin_user, sub=helpdesk_identity.sub, confirmation="desk@example.com")
    else:
        services.user_sign_out(actor=admin_user, sub=helpdesk_identity.sub)
    response = desk.post(user_url("role", alice.sub), {"role": "c", "level": "1", "shown": "a1"})
    assert response.status_code == HTTPStatus.FOUND and response.url.startswith(reverse("accounts:login"))
    assert not Session.objects.filter(session_key=key).exists()
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"
    assert not AuditEvent.objects.filter(action="role_change").exists()
