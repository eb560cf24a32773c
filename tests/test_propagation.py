"""A role change made in the portal reaches everything: the access-check API at once (it refuses the tokens
issued before, as the user was signed out everywhere), the example application at the user's next sign-in,
and the user's old refresh token is refused."""

import json

import pytest
from django.test import Client as PortalClient
from django.urls import reverse

from accounts import cognito
from accounts.applications import services as app_services
from tests.support.apps import csrf, features, sign_in
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db


def role_on(page_html: str) -> str:
    """Return the role the example application shows."""
    return page_html.split('<b id="role">', 1)[1].split("</b>", 1)[0]


def test_role_change_propagates_to_api_app_and_refresh_token(
    admin_client, admin_user, make_cognito_user, example_browser, example, apps_pool
):
    pia = make_cognito_user("pia@example.com", role=("a", 1), apps=["billing"])
    index_user(pia)
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain
    sign_in(example_browser, "pia@example.com")
    page = example_browser.get("/").get_data(as_text=True)
    assert role_on(page) == "A1" and features(page)["View invoices"] and not features(page)["Create invoices"]
    (session,) = [data for data in example.sessions._data.values() if "id_token" in data]
    id_token, old_refresh = session["id_token"], session["refresh_token"]

    def api_answer():
        body = json.dumps({"token": id_token, "application": "billing"})
        response = PortalClient().post(
            reverse("api_access_check"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
        )
        return response.status_code, response.json()

    assert api_answer()[1]["role"] == "a"

    # An administrator changes the role on the user's page in the portal.
    response = admin_client.post(
        reverse("admin:accounts_directoryentry_role", args=[pia.sub]), {"role": "a", "level": "3", "shown": "a1"}
    )
    assert response.status_code == 302

    # The access-check API refuses the token issued before the change at once: the user was signed out.
    with cognito.count_calls() as calls:
        assert api_answer() == (401, {"error": "Unauthorized: check the API key and the user's token."})
    assert sum(calls.values()) == 0

    # The application's own token still says A1 until it is refreshed: that is the window the API closes.
    assert role_on(example_browser.get("/").get_data(as_text=True)) == "A1"

    # The user's old refresh token is refused, so the application's session ends...
    with pytest.raises(cognito.NotAuthorized):
        cognito.call(
            "initiate_auth",
            ClientId=apps_pool.application_clients["billing"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": old_refresh},
        )
    ended = example_browser.post("/refresh", data={"csrf": csrf(example_browser)}, follow_redirects=True)
    assert "Your session ended" in ended.get_data(as_text=True)

    # ... and the next sign-in shows the new role and what it unlocks.
    sign_in(example_browser, "pia@example.com")
    page = example_browser.get("/").get_data(as_text=True)
    assert role_on(page) == "A3"
    assert features(page) == {
        "View invoices": True,
        "Create invoices": True,
        "Export the ledger": False,
        "Approve payments": True,
        "Change billing settings": True,
    }


def test_revoking_the_application_refuses_at_once_and_at_next_sign_in(
    admin_client, admin_user, make_cognito_user, example_browser, app_sign_in
):
    olaf = make_cognito_user("olaf@example.com", role=("c", 2), apps=["billing", "crm"])
    index_user(olaf)
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain
    token = app_sign_in("olaf@example.com")["IdToken"]
    admin_client.post(
        reverse("admin:accounts_directoryentry_access", args=[olaf.sub]), {"applications": ["crm"], "confirm": "on"}
    )
    body = json.dumps({"token": token, "application": "billing"})
    answer = PortalClient().post(
        reverse("api_access_check"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
    )
    assert answer.status_code == 401  # signed out everywhere with the revocation: the old token is void
    sign_in(example_browser, "olaf@example.com")
    response = example_browser.get("/")
    assert response.status_code == 403 and "no access to billing" in response.get_data(as_text=True)
