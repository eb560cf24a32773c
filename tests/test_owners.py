"""Application owners: a staff standing scoped to the applications they own, kept in Cognito groups.

Every owner rule is tested allowed and refused, the refusals audited as denied; Keycloak's advisory about
delegated administrators escalating through group membership is the case each forged request tries.
"""

import subprocess
import sys
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import cognito
from accounts.applications import services as app_services
from accounts.directory import services as directory_services
from accounts.directory import sync
from accounts.models import Application, AuditEvent, DirectoryEntry, User
from accounts.rules import permissions, roles
from accounts.rules.errors import InvalidInput
from accounts.signin import standing
from accounts.signin.staff import selectors as staff_selectors
from accounts.signin.staff import services as staff_services
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user, make_owner, user_url

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_directoryentry_changelist")
AUDIT = reverse("admin:accounts_auditevent_changelist")


def groups(sub: str) -> list[str]:
    """Return the user's Cognito groups, read now."""
    return sorted(cognito.user_groups(sub))


def app_url(name: str, view: str = "change", *args) -> str:
    """Return a URL of an application's screens."""
    return reverse(f"admin:accounts_application_{view}", args=[Application.objects.get(name=name).pk, *args])


def last(action: str) -> AuditEvent:
    """Return the latest audit event of an action."""
    return AuditEvent.objects.filter(action=action).first()


def said(response) -> list[str]:
    """Return the messages the response carries."""
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def bob(make_cognito_user):
    """A user of crm only: not the owner's business."""
    user = make_cognito_user("bob@example.com", apps=["crm"], name="Bob Crm")
    index_user(user)
    return user


@pytest.fixture
def carol(make_cognito_user):
    """A user of billing and crm: the owner changes billing only."""
    user = make_cognito_user("carol@example.com", apps=["billing", "crm"], name="Carol Both")
    index_user(user)
    return user


# --- The standing: kept in Cognito, never an application ------------------------------------------------------


def test_an_owner_group_is_never_an_application_group():
    assert roles.owner_group("billing") == "portal-owner--billing"
    assert roles.application_for_group("portal-owner--billing") is None
    assert roles.owned_in(["portal-owner--billing", "app-crm", "portal-admins"]) == {"billing"}
    assert permissions.standing_for_groups(["portal-owner--billing"]) == permissions.OWNER
    assert permissions.standing_for_groups(["portal-owner--billing", "portal-helpdesk"]) == permissions.HELPDESK


@override_settings(PORTAL_OWNER_GROUP_PREFIX="app-owner--")  # nested prefixes, which settings refuse at start
def test_owner_groups_stay_out_of_the_registry_even_under_prefixes_that_nest(pool, admin_user):
    with pytest.raises(InvalidInput) as refused:
        app_services.valid_name("owner--crm")
    assert refused.value.message == app_services.SAID["owner_group"].format(name="owner--crm", group="app-owner--crm")
    cognito.group_create("app-owner--crm")
    result = app_services.applications_refresh(actor=admin_user)
    assert "owner--crm" not in result["added"] and not Application.objects.filter(name="owner--crm").exists()


@pytest.mark.parametrize(
    "environment",
    [{"PORTAL_OWNER_GROUP_PREFIX": "app-owners-"}, {"PORTAL_APPLICATION_GROUP_PREFIX": "portal-owner-"}],
)
def test_settings_refuse_an_owner_prefix_that_nests_with_the_application_prefix(environment):
    code = "import django; django.setup()"
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings.test", "PATH": "/usr/bin:/bin", **environment}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert run.returncode != 0 and "PORTAL_OWNER_GROUP_PREFIX must be set" in run.stderr


def test_an_owner_signs_in_with_their_own_credentials_and_holds_only_their_applications(client, owner_identity):
    response = client.post(reverse("accounts:login"), {"email": "owner@example.com", "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.FOUND and response.url == "/"
    user = User.objects.get(cognito_sub=owner_identity.sub)
    assert permissions.standing_of(user) == permissions.OWNER and user.owned_applications == ["billing"]
    assert staff_selectors.owned_applications(user) == {"billing"}
    assert not any(user.has_perm(f"accounts.{name}") for name in permissions.ADMIN_PERMISSIONS)


def test_application_owners_are_read_live_from_the_owner_group(owner_identity, make_cognito_user):
    assert [(owner.sub, owner.email) for owner in staff_selectors.application_owners("billing")] == [
        (owner_identity.sub, "owner@example.com")
    ]
    assert staff_selectors.application_owners("crm") == []  # no owner group yet


def test_the_sync_reads_owner_groups_as_standing_never_as_applications(owner_identity, alice):
    with cognito.count_calls() as calls:
        report = sync.run(source="test")
    entry = DirectoryEntry.objects.get(sub=owner_identity.sub)
    assert entry.staff == permissions.OWNER and list(entry.grants.values_list("application", flat=True)) == []
    assert calls["ListGroups"] == 1 and report.calls == report.minimum_calls + report.staff_calls


def test_an_owner_removed_in_cognito_loses_their_session_at_the_recheck(owner_client, owner_user, settings):
    cognito.user_remove_from_group(owner_user.cognito_sub, roles.owner_group("billing"))
    User.objects.filter(pk=owner_user.pk).update(staff_checked_at=timezone.now() - timedelta(hours=1))
    response = owner_client.get(USERS)
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("accounts:login")
    user = User.objects.get(pk=owner_user.pk)
    assert permissions.standing_of(user) == "" and user.owned_applications == []


# --- What an owner sees ---------------------------------------------------------------------------------------


def test_an_owner_sees_only_the_users_of_their_applications(owner_client, alice, bob):
    response = owner_client.get(USERS)
    assert response.status_code == HTTPStatus.OK
    assert b"alice@example.com" in response.content and b"bob@example.com" not in response.content
    assert owner_client.get(user_url("change", alice.sub)).status_code == HTTPStatus.OK
    assert owner_client.get(user_url("change", bob.sub)).status_code == HTTPStatus.FORBIDDEN


def test_an_owners_access_form_offers_only_their_applications_and_keeps_the_others(owner_client, carol):
    page = owner_client.get(user_url("change", carol.sub)).content.decode()
    assert 'name="applications" value="billing"' in page and 'id="access-scope"' in page
    assert '<input type="hidden" name="applications" value="crm">' in page
    assert 'value="hr"' not in page and 'id="role-form"' not in page


def test_an_owner_sees_their_applications_audit_only(owner_client, owner_user, admin_user, carol, bob):
    directory_services.access_revoke(actor=admin_user, sub=bob.sub, application="crm")
    directory_services.access_revoke(actor=admin_user, sub=carol.sub, application="billing")
    visible = permissions.audit_visible(owner_user, AuditEvent.objects.all())
    assert [(event.target, event.applications) for event in visible] == [("carol@example.com", " billing ")]
    assert owner_client.get(AUDIT).status_code == HTTPStatus.OK
    assert owner_client.get(reverse("admin:accounts_auditevent_export")).status_code == HTTPStatus.FORBIDDEN


def test_an_owner_sees_their_application_page_without_its_settings_and_no_other(owner_client, alice):
    page = owner_client.get(app_url("billing"))
    assert page.status_code == HTTPStatus.OK
    assert b'id="owner-scope"' in page.content and b'id="application-form"' not in page.content
    assert b'id="key-issue"' not in page.content and b'id="owners"' not in page.content
    assert owner_client.get(app_url("crm")).status_code == HTTPStatus.FORBIDDEN
    listing = owner_client.get(reverse("admin:accounts_application_changelist")).content.decode()
    assert ">billing<" in listing and ">crm<" not in listing and 'id="refresh-registry"' not in listing


# --- What an owner changes: their applications, on users who are not staff ----------------------------------


def test_an_owner_revokes_their_application_checked_in_cognito_and_audited(owner_client, carol):
    with cognito.count_calls() as calls:
        response = owner_client.post(
            user_url("access", carol.sub), {"applications": ["crm"], "confirm": "on", "reason": "left billing"}
        )
    assert response.status_code == HTTPStatus.FOUND and "Revoked billing." in said(response)
    assert response.url == USERS  # carol is no longer theirs to see: back to the directory, not a 403
    assert groups(carol.sub) == ["app-crm"]
    event = last("access_set")
    assert (event.outcome, event.reason, event.applications) == (AuditEvent.SUCCESS, "left billing", " billing ")
    # the target's standing read live, the group removed, the sign-out that follows a revoke
    assert dict(calls) == {"AdminListGroupsForUser": 1, "AdminRemoveUserFromGroup": 1, "AdminUserGlobalSignOut": 1}


def test_an_owner_grants_their_application_to_a_user_keeping_the_others(owner_client, bob):
    response = owner_client.post(user_url("access", bob.sub), {"applications": ["billing", "crm"]})
    assert response.status_code == HTTPStatus.FOUND and "Granted billing." in said(response)
    assert groups(bob.sub) == ["app-billing", "app-crm"]
    assert last("access_set").applications == " billing "


def test_an_owner_removes_a_member_from_their_applications_page(owner_client, alice):
    response = owner_client.post(app_url("billing", "member_remove", alice.sub), {"reason": "review"})
    assert response.status_code == HTTPStatus.FOUND and groups(alice.sub) == []
    assert last("access_set").outcome == AuditEvent.SUCCESS


FORGED = {
    "grant an application not owned": {"applications": ["billing", "crm", "hr"], "confirm": "on"},
    "drop an application not owned": {"applications": ["billing"], "confirm": "on"},
}


@pytest.mark.parametrize("forged", FORGED)
def test_an_owner_never_changes_an_application_they_do_not_own(owner_client, carol, forged):
    response = owner_client.post(user_url("access", carol.sub), FORGED[forged])
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert groups(carol.sub) == ["app-billing", "app-crm"]
    assert last("access_set").outcome == AuditEvent.DENIED


@pytest.mark.parametrize("group", ["portal-owner--billing", "owner--billing", "portal-admins", "portal-helpdesk"])
def test_an_owner_never_grants_an_owner_or_staff_group_through_the_access_form(owner_client, carol, group):
    response = owner_client.post(user_url("access", carol.sub), {"applications": ["billing", "crm", group]})
    assert response.status_code == HTTPStatus.FOUND
    assert any("Unknown application" in message for message in said(response))
    assert groups(carol.sub) == ["app-billing", "app-crm"]
    assert last("access_set").outcome in (AuditEvent.DENIED, AuditEvent.FAILURE)


def test_an_owner_never_touches_a_staff_account_even_one_holding_their_application(
    owner_client, helpdesk_identity, make_cognito_user
):
    cognito.user_add_to_group(helpdesk_identity.sub, roles.group_for_application("billing"))
    index_user(helpdesk_identity)
    response = owner_client.post(user_url("access", helpdesk_identity.sub), {"applications": [], "confirm": "on"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert roles.group_for_application("billing") in groups(helpdesk_identity.sub)
    assert last("access_set").outcome == AuditEvent.DENIED


def test_an_owner_never_touches_another_owner(owner_client, make_cognito_user):
    other = make_cognito_user("other.owner@example.com", apps=["billing"])
    make_owner(other, "crm")
    index_user(other)
    response = owner_client.post(user_url("access", other.sub), {"applications": [], "confirm": "on"})
    assert response.status_code == HTTPStatus.FORBIDDEN and "app-billing" in groups(other.sub)


@pytest.mark.parametrize(
    ("view", "data"),
    [
        ("role", {"role": "c", "level": "3", "shown": "a1"}),
        ("sign_out", {"confirm": "on"}),
        ("disable", {"confirm": "on"}),
        ("reset_password", {"confirm": "on"}),
        ("delete", {"confirm": "alice@example.com"}),
    ],
)
def test_an_owner_never_changes_roles_or_accounts(owner_client, alice, view, data):
    before = cognito.user_get(alice.sub)
    response = owner_client.post(user_url(view, alice.sub), data)
    assert response.status_code == HTTPStatus.FORBIDDEN
    after = cognito.user_get(alice.sub)
    assert (after.attributes, after.enabled) == (before.attributes, before.enabled)
    assert AuditEvent.objects.first().outcome == AuditEvent.DENIED


@pytest.mark.parametrize("action", ["bulk_grant", "bulk_revoke", "bulk_set_role", "bulk_disable"])
def test_an_owner_runs_no_bulk_action(owner_client, alice, action):
    response = owner_client.post(USERS, {"action": action, "_selected_action": [alice.sub], "application": "crm"})
    assert response.status_code == HTTPStatus.FORBIDDEN and groups(alice.sub) == ["app-billing"]
    assert AuditEvent.objects.first().outcome == AuditEvent.DENIED


@pytest.mark.parametrize(
    "name",
    ["admin:accounts_bulkjob_import", "admin:staff_grant", "admin:accounts_application_add"],
)
def test_an_owner_reaches_no_import_staff_or_registry_write(owner_client, alice, name):
    data = {"email": "alice@example.com", "standing": "admin", "name": "stolen"}
    response = owner_client.post(reverse(name), data)
    assert response.status_code == HTTPStatus.FORBIDDEN and groups(alice.sub) == ["app-billing"]
    assert AuditEvent.objects.first().outcome == AuditEvent.DENIED


def test_an_owner_whose_ownership_ended_is_refused_at_once_on_live_facts(owner_client, owner_user, carol):
    cognito.user_remove_from_group(owner_user.cognito_sub, roles.owner_group("billing"))
    User.objects.filter(pk=owner_user.pk).update(staff_checked_at=timezone.now() - timedelta(hours=1))
    owner_user.refresh_from_db()
    with pytest.raises(PermissionDenied):
        directory_services.access_revoke(actor=owner_user, sub=carol.sub, application="billing")
    assert "app-billing" in groups(carol.sub) and last("access_revoke").outcome == AuditEvent.DENIED


# --- Administrators assign and remove owners ---------------------------------------------------------------


def test_an_administrator_assigns_an_owner_live_in_cognito_and_audited(admin_client, alice):
    page = admin_client.get(app_url("crm"))
    assert b'id="owners"' in page.content and b"No owner" in page.content
    with cognito.count_calls() as calls:
        response = admin_client.post(app_url("crm", "owner_assign"), {"email": "alice@example.com", "reason": "T-1"})
    assert response.status_code == HTTPStatus.FOUND
    assert dict(calls) == {"ListUsers": 1, "AdminListGroupsForUser": 1, "CreateGroup": 1, "AdminAddUserToGroup": 1}
    assert roles.owner_group("crm") in groups(alice.sub)
    event = last("owner_assign")
    assert (event.outcome, event.reason, event.applications, event.target) == (
        AuditEvent.SUCCESS,
        "T-1",
        " crm ",
        "alice@example.com",
    )
    assert event.after == {"standing": "owner", "owns": ["crm"]}
    assert DirectoryEntry.objects.get(sub=alice.sub).staff == permissions.OWNER
    assert b"alice@example.com" in admin_client.get(app_url("crm")).content


def test_removing_an_owner_ends_their_sessions_and_is_audited(admin_client, owner_user):
    theirs = Client()
    theirs.force_login(owner_user)
    with cognito.count_calls() as calls:
        response = admin_client.post(app_url("billing", "owner_remove", owner_user.cognito_sub), {"reason": "moved"})
    assert response.status_code == HTTPStatus.FOUND
    assert dict(calls) == {"AdminGetUser": 1, "AdminListGroupsForUser": 1, "AdminRemoveUserFromGroup": 1}
    assert roles.owner_group("billing") not in groups(owner_user.cognito_sub)
    event = last("owner_remove")
    assert (event.outcome, event.reason, event.after["sessions_ended"]) == (AuditEvent.SUCCESS, "moved", True)
    assert theirs.get(USERS).status_code == HTTPStatus.FOUND  # their session is gone: sent to sign in
    assert User.objects.get(pk=owner_user.pk).owned_applications == []


@pytest.mark.parametrize("persona", ["helpdesk", "owner"])
def test_only_administrators_assign_or_remove_owners_refusals_audited(persona, persona_client, alice, owner_identity):
    assign = persona_client.post(app_url("billing", "owner_assign"), {"email": "alice@example.com"})
    remove = persona_client.post(app_url("billing", "owner_remove", owner_identity.sub), {})
    assert assign.status_code == remove.status_code == HTTPStatus.FORBIDDEN
    assert roles.owner_group("billing") not in groups(alice.sub)
    assert roles.owner_group("billing") in groups(owner_identity.sub)
    assert AuditEvent.objects.filter(outcome=AuditEvent.DENIED).count() == 2


def test_assigning_refuses_unknown_users_and_existing_owners_with_a_message(admin_client, owner_identity):
    response = admin_client.post(app_url("billing", "owner_assign"), {"email": "nobody@example.com"})
    assert said(response) == [staff_services.SAID["no_such_user"].format(email="nobody@example.com")]
    again = admin_client.post(app_url("billing", "owner_assign"), {"email": "owner@example.com"})
    assert said(again)[-1:] == [
        staff_services.OWNER_SAID["already_owner"].format(email="owner@example.com", name="billing")
    ]
    assert last("owner_assign").outcome == AuditEvent.FAILURE


def test_an_administrator_never_makes_themselves_an_owner(admin_client, admin_identity):
    response = admin_client.post(app_url("billing", "owner_assign"), {"email": "admin@example.com"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert roles.owner_group("billing") not in groups(admin_identity.sub)


def test_the_owner_standing_follows_assignment_at_the_next_recheck(owner_user, settings):
    make_owner(cognito.user_get(owner_user.cognito_sub), "crm")
    owner_user.staff_checked_at = timezone.now() - timedelta(hours=1)
    assert standing.actor_recheck(owner_user) == ""
    assert User.objects.get(pk=owner_user.pk).owned_applications == ["billing", "crm"]


def test_an_owners_start_page_leads_to_their_applications_users_and_audit(owner_client):
    page = owner_client.get("/").content.decode()
    assert 'id="home-owner-users"' in page and "Users of billing" in page and 'id="home-owner-audit"' in page
    assert 'id="home-access"' not in page and 'id="home-import"' not in page


def test_an_owner_grants_their_application_by_email_from_its_page(owner_client, bob):
    response = owner_client.post(app_url("billing", "member_add"), {"email": "BOB@example.com", "reason": "new"})
    assert response.status_code == HTTPStatus.FOUND and groups(bob.sub) == ["app-billing", "app-crm"]
    assert last("access_grant").outcome == AuditEvent.SUCCESS
    refused = owner_client.post(app_url("crm", "member_add"), {"email": "bob@example.com"})
    assert refused.status_code == HTTPStatus.FORBIDDEN and AuditEvent.objects.first().outcome == AuditEvent.DENIED
    assert groups(bob.sub) == ["app-billing", "app-crm"]


def test_granting_by_an_email_the_directory_lacks_is_refused_and_audited(owner_client):
    owner_client.post(app_url("billing", "member_add"), {"email": "nobody@example.com"})
    event = last("access_grant")
    assert (event.outcome, event.target) == (AuditEvent.FAILURE, "nobody@example.com")


def test_an_owner_cannot_move_the_end_of_an_application_they_do_not_own(owner_user, carol):
    with pytest.raises(PermissionDenied):
        directory_services.access_end_change(
            actor=owner_user, sub=carol.sub, application="crm", expires=timezone.now() + timedelta(days=3)
        )
    assert AuditEvent.objects.get(action="access_extend").outcome == AuditEvent.DENIED
