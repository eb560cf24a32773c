"""The example application (examples/billing): sign-in against the pool, the group, the role's features."""

import json
from http import HTTPStatus

import pytest
from werkzeug.test import Client  # comes with moto[server]

from accounts import cognito
from examples.billing import app as billing
from tests import tokens_helpers as forge
from tests.conftest import USER_PASSWORD
from tests.support.apps import csrf, features, sign_in


@pytest.fixture
def bella(make_cognito_user):
    """A B2 user of billing."""
    return make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"])


def test_anonymous_is_sent_to_sign_in(example_browser):
    response = example_browser.get("/")
    assert response.status_code == HTTPStatus.SEE_OTHER and response.headers["Location"].endswith("/signin")


def test_member_sees_the_features_of_her_role(example_browser, bella):
    response = sign_in(example_browser, "bella@example.com")
    assert response.status_code == HTTPStatus.SEE_OTHER
    page = example_browser.get("/").get_data(as_text=True)
    assert '<b id="role">B2</b>' in page and "bella@example.com" in page
    assert features(page) == {
        "View invoices": True,
        "Create invoices": True,
        "Export the ledger": True,
        "Approve payments": False,
        "Change billing settings": False,
    }


def test_user_without_the_group_is_refused(example_browser, make_cognito_user):
    make_cognito_user("carl@example.com", role=("a", 3), apps=["crm"])
    sign_in(example_browser, "carl@example.com")
    response = example_browser.get("/")
    assert response.status_code == HTTPStatus.FORBIDDEN and "no access to billing" in response.get_data(as_text=True)


def test_wrong_password_is_refused_plainly(example_browser, bella):
    response = sign_in(example_browser, "bella@example.com", "Wrong-Password-1!")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert billing.BAD_CREDENTIALS in response.get_data(as_text=True)


def test_post_without_the_csrf_token_is_refused(example_browser, bella):
    response = example_browser.post("/signin", data={"email": "bella@example.com", "password": USER_PASSWORD})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert example_browser.get("/").status_code == HTTPStatus.SEE_OTHER


def test_expired_token_is_refreshed_transparently(example_browser, example, bella, access_config):
    sign_in(example_browser, "bella@example.com")
    (session,) = [data for data in example.sessions._data.values() if "id_token" in data]
    session["id_token"] = forge.sign(forge.claims_for(access_config.issuer, access_config.client_ids[0], lifetime=-60))
    response = example_browser.get("/", follow_redirects=True)
    assert '<b id="role">B2</b>' in response.get_data(as_text=True)


def test_revoked_refresh_token_ends_the_session(example_browser, bella):
    sign_in(example_browser, "bella@example.com")
    cognito.user_sign_out_everywhere("bella@example.com")
    response = example_browser.post("/refresh", data={"csrf": csrf(example_browser)}, follow_redirects=True)
    assert billing.SESSION_ENDED in response.get_data(as_text=True)
    assert example_browser.get("/").status_code == HTTPStatus.SEE_OTHER


def test_features_api_takes_a_bearer_token(example, bella, app_sign_in):
    api = Client(example)
    assert api.get("/api/features").status_code == HTTPStatus.UNAUTHORIZED
    token = app_sign_in("bella@example.com")["IdToken"]
    answer = api.get("/api/features", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == HTTPStatus.OK
    assert json.loads(answer.get_data()) == {
        "email": "bella@example.com",
        "role": "b",
        "level": 2,
        "applications": ["billing"],
        "features": ["View invoices", "Create invoices", "Export the ledger"],
    }


def test_settings_from_the_portal_environment():
    settings = billing.Settings.from_environ(
        {
            "COGNITO_USER_POOL_ID": "us-east-1_abc",
            "COGNITO_APPLICATIONS_CLIENT_ID": "client123",
            "COGNITO_ENDPOINT_URL": "http://127.0.0.1:5300",
            "PORTAL_ROLES": "a=Viewer,b",
        }
    )
    assert settings.access.keys_url == "http://127.0.0.1:5300/us-east-1_abc/.well-known/jwks.json"
    assert settings.cognito_endpoint == "http://127.0.0.1:5300"
    assert settings.access.roles == ("a", "b") and settings.access.client_ids == ("client123",)
