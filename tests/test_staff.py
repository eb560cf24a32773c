"""Staff management: the staff page read live, granting and removing standing, and the rules around it."""

from datetime import UTC, datetime
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts import cognito
from accounts.directory import services as directory_services
from accounts.models import AuditEvent, DirectoryEntry
from accounts.rules import permissions, roles
from accounts.signin import standing
from accounts.signin.staff import services
from accounts.signin.staff.views import SAID
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user, local_staff, user_url

pytestmark = pytest.mark.django_db

STAFF, GRANT = reverse("admin:staff"), reverse("admin:staff_grant")
ADMINS, DESK = "portal-admins", "portal-helpdesk"


def remove_url(sub: str) -> str:
    """Return the URL that removes a standing from a member."""
    return reverse("admin:staff_remove", args=[sub])


def said(response) -> list[str]:
    """Return the messages the response carries."""
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def boss(make_cognito_user):
    """A second administrator, in the directory."""
    user = make_cognito_user("boss@example.com", role=None, staff="admin", name="Bo Boss")
    index_user(user)
    return user


def test_the_staff_page_lists_administrators_and_help_desk_read_live(admin_client, helpdesk_identity, boss, alice):
    with cognito.count_calls() as calls:
        response = admin_client.get(STAFF)
    assert response.status_code == HTTPStatus.OK
    assert dict(calls) == {"ListUsersInGroup": 2, "AdminGetUser": 3}  # each group, then each member for MFA
    rows = {
        member.email: (member.standing_label, member.enabled, member.mfa_label)
        for member, _ in response.context["members"]
    }
    assert rows == {
        "admin@example.com": ("Administrator", True, ""),
        "boss@example.com": ("Administrator", True, ""),
        "desk@example.com": ("Help desk", True, ""),
    }
    page = response.content.decode()
    assert 'class="staff-last-sign-in"' in page and "alice@example.com" not in page
    assert page.count("staff-remove-") == 2  # boss and desk; never one's own row


def test_the_staff_page_shows_who_set_up_mfa(admin_client, helpdesk_identity):
    session = cognito.auth_password("desk@example.com", STAFF_PASSWORD)
    cognito.token_associate(access_token=session.access_token)
    cognito.token_verify("123456", access_token=session.access_token)
    cognito.user_set_totp_preference(helpdesk_identity.sub, enabled=True)
    page = admin_client.get(STAFF).content.decode()
    assert '<td class="staff-mfa">Authenticator app (TOTP)</td>' in page
    assert '<td class="staff-mfa">Not set up</td>' in page  # the administrator's own


def test_the_help_desk_cannot_see_the_staff_page(helpdesk_client):
    assert helpdesk_client.get(STAFF).status_code == HTTPStatus.FORBIDDEN


def test_granting_help_desk_adds_the_cognito_group_and_is_audited(admin_client, alice):
    with cognito.count_calls() as calls:
        response = admin_client.post(GRANT, {"email": "Alice@Example.com", "standing": "helpdesk"})
    assert dict(calls) == {"ListUsers": 1, "AdminListGroupsForUser": 1, "AdminAddUserToGroup": 1}
    assert response.status_code == HTTPStatus.FOUND and response.url == STAFF
    assert said(response) == [SAID["granted"].format(email="alice@example.com", standing="help desk")]
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", DESK]
    assert DirectoryEntry.objects.get(sub=alice.sub).staff == "helpdesk"
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target_sub) == ("staff_grant", "success", alice.sub)
    assert (event.before, event.after) == ({"standing": ""}, {"standing": "helpdesk", "granted": "helpdesk"})


def test_granting_administrator_asks_first_and_changes_nothing_until_confirmed(admin_client, alice):
    with cognito.count_calls() as calls:
        page = admin_client.post(GRANT, {"email": "alice@example.com", "standing": "admin"})
    assert page.status_code == HTTPStatus.OK and not calls and not AuditEvent.objects.exists()
    text = page.content.decode()
    assert "Grant <strong>administrator</strong> standing to <strong>alice@example.com</strong>" in text
    assert 'name="confirm" value="on"' in text
    assert cognito.user_groups(alice.sub) == ["app-billing"]
    response = admin_client.post(GRANT, {"email": "alice@example.com", "standing": "admin", "confirm": "on"})
    assert response.url == STAFF
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", ADMINS]


def test_the_confirmation_page_is_also_shown_on_get_and_writes_nothing(admin_client, alice):
    response = admin_client.get(GRANT, {"email": "alice@example.com", "standing": "admin"})
    assert response.status_code == HTTPStatus.OK and b"confirm-submit" in response.content
    assert cognito.user_groups(alice.sub) == ["app-billing"] and not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "nobody@example.com", "standing": "helpdesk"}, services.SAID["no_such_user"]),
        ({"email": "desk@example.com", "standing": "helpdesk"}, services.SAID["already"]),
    ],
)
def test_a_grant_cognito_cannot_apply_is_refused_with_a_message(admin_client, helpdesk_identity, data, message):
    response = admin_client.post(GRANT, data)
    assert said(response) == [message.format(email=data["email"], standing="help desk")]
    assert AuditEvent.objects.get().outcome == AuditEvent.FAILURE


def test_a_malformed_form_is_refused_with_a_message_and_audited(admin_client, alice):
    response = admin_client.post(GRANT, {"email": "not-an-email", "standing": "superuser"})
    assert said(response) == [SAID["invalid"]]
    assert cognito.user_groups(alice.sub) == ["app-billing"]
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target) == ("staff_grant", "failure", "not-an-email")


def test_an_unknown_standing_is_refused_by_the_service(admin_user, alice):
    with pytest.raises(directory_services.InvalidInput, match=services.SAID["unknown_standing"]):
        services.staff_grant(actor=admin_user, email="alice@example.com", standing_name="superuser")
    assert cognito.user_groups(alice.sub) == ["app-billing"]


def test_nobody_changes_their_own_standing(admin_client, admin_identity, boss):
    for response in (
        admin_client.post(GRANT, {"email": "admin@example.com", "standing": "helpdesk"}),
        admin_client.post(remove_url(admin_identity.sub), {"standing": "admin"}),
    ):
        assert response.status_code == HTTPStatus.FORBIDDEN
    assert cognito.user_groups(admin_identity.sub) == [ADMINS]
    assert list(AuditEvent.objects.values_list("action", "outcome")) == [
        ("staff_remove", "denied"),
        ("staff_grant", "denied"),
    ]


def test_removing_help_desk_ends_the_members_sessions_at_once(admin_client, helpdesk_user, helpdesk_identity):
    desk = Client()
    desk.force_login(helpdesk_user)
    assert desk.get(user_url("changelist")).status_code == HTTPStatus.OK
    with cognito.count_calls() as calls:
        response = admin_client.post(remove_url(helpdesk_identity.sub), {"standing": "helpdesk"})
    assert dict(calls) == {"AdminGetUser": 1, "AdminListGroupsForUser": 1, "AdminRemoveUserFromGroup": 1}
    assert said(response) == [
        SAID["removed"].format(email="desk@example.com", standing="help desk"),
        SAID["sessions_ended"],
    ]
    assert cognito.user_groups(helpdesk_identity.sub) == []
    assert desk.get(user_url("changelist")).status_code == HTTPStatus.FOUND  # signed out: to the sign-in page
    helpdesk_user.refresh_from_db()
    assert permissions.standing_of(helpdesk_user) == ""
    event = AuditEvent.objects.get()
    assert (event.action, event.before, event.after) == (
        "staff_remove",
        {"standing": "helpdesk"},
        {"standing": "", "removed": "helpdesk", "sessions_ended": True},
    )


def test_removing_a_standing_the_member_lacks_changes_nothing(admin_client, helpdesk_identity):
    response = admin_client.post(remove_url(helpdesk_identity.sub), {"standing": "admin"})
    assert said(response) == [services.SAID["not_held"].format(email="desk@example.com", standing="administrator")]
    assert cognito.user_groups(helpdesk_identity.sub) == [DESK]


@pytest.fixture
def last_admin(admin_user, admin_identity, boss, make_cognito_user):
    """Boss is the last enabled administrator: the actor left the group in Cognito (not rechecked yet), Carl is
    disabled."""
    carl = make_cognito_user("carl@example.com", role=None, staff="admin")
    cognito.user_disable(carl.sub)
    cognito.user_remove_from_group(admin_identity.sub, roles.staff_groups()["admin"])
    return boss


def test_the_last_enabled_administrator_cannot_be_removed(admin_client, last_admin):
    response = admin_client.post(remove_url(last_admin.sub), {"standing": "admin"})
    assert said(response) == [standing.LAST_ADMINISTRATOR.format(email="boss@example.com")]
    assert cognito.user_groups(last_admin.sub) == [ADMINS]
    assert AuditEvent.objects.get().outcome == AuditEvent.FAILURE


def test_the_last_enabled_administrator_cannot_be_disabled_or_deleted(admin_client, last_admin):
    for response in (
        admin_client.post(user_url("disable", last_admin.sub), {"confirm": "on"}),
        admin_client.post(user_url("delete", last_admin.sub), {"confirm": "boss@example.com"}),
    ):
        assert standing.LAST_ADMINISTRATOR.format(email="boss@example.com") in said(response)
    account = cognito.user_get(last_admin.sub)
    assert account.enabled and cognito.user_groups(last_admin.sub) == [ADMINS]


def test_a_command_cannot_disable_the_last_enabled_administrator(admin_identity):
    index_user(admin_identity)
    with pytest.raises(directory_services.ServiceError, match="last enabled administrator"):
        directory_services.user_disable(actor=permissions.CommandActor("manage.py"), sub=admin_identity.sub)
    assert cognito.user_get(admin_identity.sub).enabled


def test_another_administrator_can_still_be_removed(admin_client, boss):
    local_staff(cognito.user_get(boss.sub), "admin")
    with cognito.count_calls() as calls:
        response = admin_client.post(remove_url(boss.sub), {"standing": "admin"})
    assert sum(calls.values()) == 4 and calls["ListUsersInGroup"] == 1  # the enabled administrators, live
    assert said(response)[0] == SAID["removed"].format(email="boss@example.com", standing="administrator")
    assert cognito.user_groups(boss.sub) == []


def test_the_administrator_grant_carries_its_reason_from_the_confirmation_page_to_the_audit(admin_client, alice):
    page = admin_client.post(GRANT, {"email": "alice@example.com", "standing": "admin", "reason": "CHG-77"})
    assert 'name="reason" value="CHG-77"' in page.content.decode()  # the confirmation page keeps it
    admin_client.post(GRANT, {"email": "alice@example.com", "standing": "admin", "confirm": "on", "reason": "CHG-77"})
    event = AuditEvent.objects.get(action="staff_grant")
    assert (event.outcome, event.reason) == ("success", "CHG-77")


def test_removing_a_standing_records_its_reason(admin_client, helpdesk_identity):
    admin_client.post(remove_url(helpdesk_identity.sub), {"standing": "helpdesk", "reason": "left the team"})
    event = AuditEvent.objects.get(action="staff_remove")
    assert (event.outcome, event.reason) == ("success", "left the team")


def test_a_required_reason_missing_changes_no_standing(admin_client, alice, settings):
    settings.PORTAL_REASON_REQUIRED = ["staff_grant"]
    with cognito.count_calls() as calls:
        admin_client.post(GRANT, {"email": "alice@example.com", "standing": "helpdesk"})
    assert "AdminAddUserToGroup" not in calls
    assert cognito.user_groups(alice.sub) == ["app-billing"]
    assert AuditEvent.objects.get(action="staff_grant").outcome == "failure"


def test_the_staff_page_shows_each_members_last_portal_sign_in(admin_client, admin_user, helpdesk_identity):
    admin_user.last_login = datetime(2026, 11, 30, 8, 15, 42, tzinfo=UTC)
    admin_user.save(update_fields=["last_login"])
    page = admin_client.get(STAFF).content.decode()
    assert '<td class="staff-last-sign-in">2026-11-30 08:15:42</td>' in page
    assert '<td class="staff-last-sign-in">—</td>' in page  # the help desk never signed in to the portal
