"""Sessions that follow Cognito: revalidation at the interval ends what Cognito no longer allows."""

from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import cognito
from accounts.directory import services
from accounts.models import User
from accounts.rules import permissions
from accounts.signin import flows
from accounts.signin.flows import session
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user

HOME = reverse("home")


@pytest.fixture
def admin_client(client, admin_identity, settings):
    """A client signed in as the administrator, due for revalidation at its next request."""
    client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert SESSION_KEY in client.session
    settings.PORTAL_SESSION_REVALIDATE_SECONDS = 0
    return client


def ended_because(response, why: str) -> bool:
    """Return True when the response ends the session and says why."""
    followed = response.client.get(response.url)
    return response.url == reverse("accounts:login") and flows.common.SESSION_ENDED.format(why=why) in [
        str(m) for m in followed.context["messages"]
    ]


@pytest.mark.django_db
def test_revalidation_refreshes_tokens_in_two_calls(admin_client):
    before = admin_client.session[flows.common.TOKENS]
    with cognito.count_calls() as calls:
        assert admin_client.get(HOME).status_code == HTTPStatus.OK
    assert dict(calls) == {"AdminInitiateAuth": 1, "AdminGetUser": 1}
    after = admin_client.session[flows.common.TOKENS]
    assert after["checked_at"] > before["checked_at"] and after["refresh"] == before["refresh"]


@pytest.mark.django_db
def test_disabled_staff_member_is_signed_out_at_the_next_request(admin_client):
    cognito.user_disable("admin@example.com")
    response = admin_client.get(HOME)
    assert ended_because(response, "your account was disabled")
    assert SESSION_KEY not in admin_client.session


@pytest.mark.django_db
def test_staff_member_removed_from_the_staff_groups_is_signed_out(admin_client):
    cognito.user_remove_from_group("admin@example.com", "portal-admins")
    assert ended_because(admin_client.get(HOME), "your account is no longer portal staff")


@pytest.mark.django_db
def test_revoked_sign_in_ends_the_session(admin_client):
    cognito.user_sign_out_everywhere("admin@example.com")
    assert ended_because(admin_client.get(HOME), "your sign-in was revoked")


@pytest.mark.django_db
def test_deleted_account_ends_the_session_simulated(admin_client, monkeypatch):
    monkeypatch.setattr(
        cognito, "auth_refresh", lambda *a: cognito.AuthResult(id_token=admin_client.session[flows.common.TOKENS]["id"])
    )  # moto crashes refreshing a deleted user's token
    cognito.user_delete("admin@example.com")
    assert ended_because(admin_client.get(HOME), "your account no longer exists")


@pytest.mark.django_db
def test_demoted_administrator_keeps_a_session_with_the_help_desk_standing(admin_client, admin_identity):
    cognito.user_add_to_group("admin@example.com", "portal-helpdesk")
    cognito.user_remove_from_group("admin@example.com", "portal-admins")
    assert admin_client.get(HOME).status_code == HTTPStatus.OK
    assert permissions.standing_of(User.objects.get(cognito_sub=admin_identity.sub)) == permissions.HELPDESK


@pytest.mark.django_db
def test_cognito_unreachable_at_revalidation_answers_503(admin_client, settings):
    settings.COGNITO_ENDPOINT_URL = "http://127.0.0.1:9"
    response = admin_client.get(HOME)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert b"Cognito cannot be reached" in response.content
    assert SESSION_KEY in admin_client.session


@pytest.mark.django_db
def test_revalidation_waits_for_the_interval(client, admin_identity, settings):
    client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    settings.PORTAL_SESSION_REVALIDATE_SECONDS = 300
    cognito.user_disable("admin@example.com")
    with cognito.count_calls() as calls:
        assert client.get(HOME).status_code == HTTPStatus.OK
    assert sum(calls.values()) == 0


@pytest.mark.django_db
def test_the_other_session_after_sign_out_everywhere_lands_on_sign_in_with_the_reason(client, admin_identity):
    from django.test import Client

    other = Client()
    for browser in (client, other):
        browser.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    client.post(reverse("accounts:account_sign_out_everywhere"))
    assert ended_because(other.get(HOME), session.ENDED_HERE)
    assert other.get(HOME).url.startswith(reverse("accounts:login"))  # said once; then the plain sign-in redirect


@pytest.mark.django_db
def test_a_session_ended_by_an_administrators_disable_says_so(client, admin_user, helpdesk_identity):
    client.post(reverse("accounts:login"), {"email": "desk@example.com", "password": STAFF_PASSWORD})
    index_user(helpdesk_identity)
    services.user_disable(actor=admin_user, sub=helpdesk_identity.sub)
    assert ended_because(client.get(HOME), session.ENDED_BY_STAFF["user_disable"])
