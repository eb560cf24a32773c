"""Confirmation pages: disable, reset password, sign out everywhere and a revoking access submit say exactly
what will happen (GET, or a POST without `confirm`), and only the confirmed POST changes anything."""

from http import HTTPStatus

import pytest
from django.utils.html import escape

from accounts import cognito
from accounts.directory.views import CONFIRM
from accounts.models import AuditEvent
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db

SAYS = {
    "disable": "they will be signed out of every application",
    "sign_out": "They will be signed out of every application",
    "reset_password": "Their current password stops working at once",
}


def state(sub: str) -> tuple:
    """Return what the actions change in Cognito: enabled, status, groups."""
    account = cognito.user_get(sub)
    return account.enabled, account.status, sorted(cognito.user_groups(sub))


@pytest.mark.parametrize("action", ["disable", "sign_out", "reset_password"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_confirmation_page_says_what_will_happen_and_changes_nothing(admin_client, alice, action, method):
    before = state(alice.sub)
    with cognito.count_calls() as calls:
        response = getattr(admin_client, method)(user_url(action, alice.sub))
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert escape(CONFIRM[action][0].format(email="alice@example.com")) in page
    assert SAYS[action] in page and 'name="confirm" value="on"' in page
    assert f'href="{user_url("change", alice.sub)}" class="closelink" id="confirm-cancel"' in page
    assert not calls and state(alice.sub) == before and not AuditEvent.objects.exists()


def test_the_confirmed_post_acts(admin_client, alice):
    response = admin_client.post(user_url("disable", alice.sub), {"confirm": "on"})
    assert response.status_code == HTTPStatus.FOUND and response.url == user_url("change", alice.sub)
    assert not cognito.user_get(alice.sub).enabled


def test_the_help_desk_gets_no_confirmation_page_for_what_it_may_not_do(helpdesk_client, alice):
    response = helpdesk_client.get(user_url("disable", alice.sub))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert cognito.user_get(alice.sub).enabled


def test_a_submit_that_revokes_asks_first_naming_the_applications(admin_client, alice):
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("access", alice.sub), {"applications": ["crm"]})
    assert response.status_code == HTTPStatus.OK and not calls
    page = response.content.decode()
    assert "<li><strong>Revoke:</strong> billing</li>" in page and "<li><strong>Grant:</strong> crm</li>" in page
    assert "Revoking signs them out of every application" in page
    assert '<input type="hidden" name="applications" value="crm">' in page
    assert cognito.user_groups(alice.sub) == ["app-billing"] and not AuditEvent.objects.exists()
    confirmed = admin_client.post(user_url("access", alice.sub), {"applications": ["crm"], "confirm": "on"})
    assert confirmed.status_code == HTTPStatus.FOUND
    assert cognito.user_groups(alice.sub) == ["app-crm"]


def test_a_submit_that_only_grants_acts_at_once(admin_client, alice):
    response = admin_client.post(user_url("access", alice.sub), {"applications": ["billing", "crm"]})
    assert response.status_code == HTTPStatus.FOUND
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", "app-crm"]


def test_the_user_page_links_to_the_confirmation_pages(admin_client, alice):
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    for action, button in (("disable", "disable"), ("sign_out", "sign-out"), ("reset_password", "reset-password")):
        assert f'<a href="{user_url(action, alice.sub)}" class="button" id="{button}">' in page
