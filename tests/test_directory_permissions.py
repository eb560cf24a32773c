"""Who may do what: every user-administration view against the four personas, and the escalation rules."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts import cognito
from accounts.directory import selectors
from accounts.models import AuditEvent
from accounts.rules import permissions
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db

OK, FOUND, FORBIDDEN = HTTPStatus.OK, HTTPStatus.FOUND, HTTPStatus.FORBIDDEN
INVITE = {"email": "new@example.com", "name": "New Person", "role": "b", "level": "2", "applications": ["crm"]}

# view: (method, url(sub), data, expected for help desk, expected for an administrator)
VIEWS = {
    "admin index": ("get", lambda sub: reverse("admin:index"), None, OK, OK),
    "directory": ("get", lambda sub: user_url("changelist"), None, OK, OK),
    "user page": ("get", lambda sub: user_url("change", sub), None, OK, OK),
    "invite form": ("get", lambda sub: user_url("add"), None, FORBIDDEN, OK),
    "invite": ("post", lambda sub: user_url("add"), INVITE, FORBIDDEN, FOUND),
    "change role": (
        "post",
        lambda sub: user_url("role", sub),
        {"role": "c", "level": "2", "shown": "a1"},
        FOUND,
        FOUND,
    ),
    "grant and revoke": (
        "post",
        lambda sub: user_url("access", sub),
        {"applications": ["crm"], "confirm": "on"},
        FORBIDDEN,
        FOUND,
    ),
    "reset password": ("post", lambda sub: user_url("reset_password", sub), {"confirm": "on"}, FOUND, FOUND),
    "sign out": ("post", lambda sub: user_url("sign_out", sub), {"confirm": "on"}, FOUND, FOUND),
    "disable": ("post", lambda sub: user_url("disable", sub), {"confirm": "on"}, FORBIDDEN, FOUND),
    "enable": ("post", lambda sub: user_url("enable", sub), {}, FORBIDDEN, FOUND),
    "delete form": ("get", lambda sub: user_url("delete", sub), None, FORBIDDEN, OK),
    "delete": ("post", lambda sub: user_url("delete", sub), {"confirm": "alice@example.com"}, FORBIDDEN, FOUND),
    "refresh directory": ("post", lambda sub: user_url("refresh"), {}, FOUND, FOUND),
    "audit log": ("get", lambda sub: reverse("admin:accounts_auditevent_changelist"), None, FORBIDDEN, OK),
    "audit export": ("get", lambda sub: reverse("admin:accounts_auditevent_export"), None, FORBIDDEN, OK),
}
PERSONAS = ["anonymous", "nonstaff", "helpdesk", "admin"]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("view", list(VIEWS))
def test_every_view_against_every_persona(view, persona, persona_client, alice):
    method, url, data, helpdesk, administrator = VIEWS[view]
    target = url(alice.sub)
    response = getattr(persona_client, method)(target, data) if data is not None else persona_client.get(target)
    expected = {"anonymous": FOUND, "nonstaff": FORBIDDEN, "helpdesk": helpdesk, "admin": administrator}[persona]
    assert response.status_code == expected
    if persona == "anonymous":
        assert response["Location"] == f"{reverse('accounts:login')}?next={target.replace(':', '%3A')}"
    if expected == FORBIDDEN:
        assert b"not allowed" in response.content.lower()
        assert cognito.user_get(alice.sub).enabled  # nothing happened to the target
        assert cognito.user_groups(alice.sub) == ["app-billing"]


@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize(
    "action", ["role", "access", "reset_password", "sign_out", "disable", "enable", "refresh", "resend_invitation"]
)
def test_no_write_on_get(action, method, admin_client, alice):
    url = user_url(action) if action == "refresh" else user_url(action, alice.sub)
    with cognito.count_calls() as calls:
        response = getattr(admin_client, method)(url, {"role": "c", "level": "1", "shown": "a1", "confirm": "on"})
    confirmed = method == "get" and action in ("reset_password", "sign_out", "disable")  # shows what POST does
    assert response.status_code == (HTTPStatus.OK if confirmed else HTTPStatus.METHOD_NOT_ALLOWED)
    assert not calls
    assert AuditEvent.objects.count() == 0


def test_writes_need_the_csrf_token(admin_user, alice, settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(user_url("role", alice.sub), {"role": "c", "level": "1", "shown": "a1"})
    assert response.status_code == FORBIDDEN
    assert cognito.user_get(alice.sub).attributes["custom:role_a"] == "1"


def test_admin_sign_in_page_sends_to_the_portal_sign_in(client):
    response = client.get(reverse("admin:login") + "?next=/admin/accounts/directoryentry/")
    assert response.status_code == FOUND
    assert response["Location"] == reverse("accounts:login") + "?next=/admin/accounts/directoryentry/"


def test_admin_sign_in_page_drops_an_outside_next(client):
    response = client.get(reverse("admin:login") + "?next=https://evil.example/")
    assert response["Location"] == reverse("accounts:login") + "?next=/admin/"


# --- The help desk's limits -------------------------------------------------------------------------


def test_helpdesk_page_shows_only_its_controls(helpdesk_client, alice):
    page = helpdesk_client.get(user_url("change", alice.sub)).content.decode()
    assert 'id="role-form"' in page and 'id="reset-password"' in page and 'id="sign-out"' in page
    assert 'id="access-form"' not in page and 'id="delete-link"' not in page and 'id="disable"' not in page


def test_administrator_page_shows_every_control(admin_client, alice):
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    for control in ["role-form", "access-form", "reset-password", "sign-out", "disable", "delete-link"]:
        assert f'id="{control}"' in page


@pytest.mark.parametrize(
    "action, data",
    [
        ("role", {"role": "c", "level": "3", "shown": "none"}),
        ("reset_password", {"confirm": "on"}),
        ("sign_out", {"confirm": "on"}),
        ("access", {"applications": ["billing"]}),
    ],
)
def test_helpdesk_cannot_touch_a_staff_account(action, data, helpdesk_client, make_cognito_user):
    other_admin = make_cognito_user("boss@example.com", role=None, staff="admin")
    index_user(other_admin)
    with cognito.count_calls() as calls:
        response = helpdesk_client.post(user_url(action, other_admin.sub), data)
    assert response.status_code == FORBIDDEN
    assert dict(calls) == {"AdminListGroupsForUser": 1}  # the target's staff standing, read live; nothing written
    assert AuditEvent.objects.get().outcome == AuditEvent.DENIED


def test_helpdesk_cannot_change_its_own_role(helpdesk_client, helpdesk_identity):
    index_user(helpdesk_identity)
    response = helpdesk_client.post(
        user_url("role", helpdesk_identity.sub), {"role": "a", "level": "3", "shown": "none"}
    )
    assert response.status_code == FORBIDDEN
    assert cognito.user_get(helpdesk_identity.sub).attributes["custom:role_a"] == "0"
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target_sub) == ("role_change", "denied", helpdesk_identity.sub)


@pytest.mark.parametrize("action", ["invite", "access", "disable", "delete"])
def test_helpdesk_cannot_escalate_anyone(action, helpdesk_client, alice):
    url = user_url("add") if action == "invite" else user_url(action, alice.sub)
    data = (
        {**INVITE, "email": "mine@example.com"}
        if action == "invite"
        else {"applications": ["billing", "crm", "hr"], "confirm": "alice@example.com"}
    )
    response = helpdesk_client.post(url, data)
    assert response.status_code == FORBIDDEN
    assert cognito.user_groups(alice.sub) == ["app-billing"] and cognito.user_get(alice.sub).enabled
    assert not list(cognito.users_list('email = "mine@example.com"'))
    assert AuditEvent.objects.get().outcome == AuditEvent.DENIED


def test_nobody_changes_their_own_role_not_even_an_administrator(admin_client, admin_identity):
    index_user(admin_identity)
    page = admin_client.get(user_url("change", admin_identity.sub)).content.decode()
    assert 'id="role-form"' not in page and 'id="delete-link"' not in page and 'id="disable"' not in page
    response = admin_client.post(user_url("role", admin_identity.sub), {"role": "a", "level": "3", "shown": "none"})
    assert response.status_code == FORBIDDEN


def test_staff_groups_cannot_be_granted_as_applications(admin_client, alice):
    response = admin_client.post(
        user_url("access", alice.sub), {"applications": ["billing", "../portal-admins"], "confirm": "on"}
    )
    assert response.status_code == FOUND
    assert cognito.user_groups(alice.sub) == ["app-billing"]
    assert AuditEvent.objects.get().outcome == AuditEvent.FAILURE


def test_administrator_may_act_on_another_staff_account(admin_client, helpdesk_identity):
    index_user(helpdesk_identity)
    response = admin_client.post(user_url("sign_out", helpdesk_identity.sub), {"confirm": "on"})
    assert response.status_code == FOUND
    assert AuditEvent.objects.get().outcome == AuditEvent.SUCCESS


def test_predicates_follow_the_rules(admin_user, helpdesk_user, nonstaff_user, alice, helpdesk_identity):
    plain = selectors.entry_get(alice.sub)
    desk = index_user(helpdesk_identity)
    assert permissions.allowed_actions(admin_user, plain) == dict.fromkeys(permissions.USER_ACTIONS, True)
    assert permissions.allowed_actions(helpdesk_user, plain) == {
        "grant": False,
        "change_role": True,
        "reset_password": True,
        "sign_out": True,
        "disable": False,
        "delete": False,
        "resend_invitation": False,
    }
    assert not any(permissions.allowed_actions(helpdesk_user, desk).values())  # its own, a staff account
    assert not any(permissions.allowed_actions(nonstaff_user, plain).values())
    assert permissions.can_view_audit(admin_user) and not permissions.can_view_audit(helpdesk_user)
    assert permissions.can_invite(admin_user) and not permissions.can_invite(helpdesk_user)
