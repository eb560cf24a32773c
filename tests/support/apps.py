"""Fixtures for the applications' side: the applications' app client, its sign-in, a cognito_access Verifier."""

import time
from datetime import timedelta

import pytest
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils import timezone
from werkzeug.test import Client  # comes with moto[server]

from accounts import cognito
from accounts.applications import services as app_services
from accounts.models import Application, Revocation
from accounts.signin import tokens
from cognito_access import Config, RevocationFeed, Verifier
from examples.billing import app as billing
from tests import tokens_helpers as forge
from tests.support.pool import USER_PASSWORD


@pytest.fixture(autouse=True)
def _no_verified_tokens_between_tests():
    """Start each test with no token remembered as verified (as a new worker would)."""
    tokens.forget_verified()
    yield
    tokens.forget_verified()


@pytest.fixture
def apps_pool(pool, settings):
    """The bootstrapped pool, with the applications' app client configured."""
    settings.COGNITO_APPLICATIONS_CLIENT_ID = pool.applications_client_id
    return pool


@pytest.fixture
def app_sign_in(apps_pool):
    """Sign a user in as an application does (its own public client, USER_PASSWORD_AUTH); return the tokens."""

    def sign_in(email: str, password: str = USER_PASSWORD, application: str = "billing") -> dict:
        response = cognito.call(
            "initiate_auth",
            ClientId=apps_pool.application_clients[application],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        return response["AuthenticationResult"]

    return sign_in


def token_after_revocations(
    sub: str, application: str = "billing", *, token_use: str = "id", groups=("app-billing",)
) -> str:
    """Move the user's revocations 10 seconds back; return a token of theirs for the application's own client
    issued now, after them (moto's key).

    A token really issued just after a sign-out may carry the same `iat` second, which the portal refuses.
    """
    Revocation.objects.filter(sub=sub).update(not_before=timezone.now() - timedelta(seconds=10))
    client_id = Application.objects.get(name=application).client_id
    claims = forge.claims_for(
        tokens.issuer(),
        client_id,
        token_use=token_use,
        sub=sub,
        iat=int(time.time()),
        **{"cognito:groups": list(groups)},
    )
    return forge.sign(claims)


@pytest.fixture
def access_config(apps_pool, settings) -> Config:
    """The Config billing would use: billing's own app client."""
    return Config(
        region=settings.COGNITO_REGION,
        user_pool_id=apps_pool.pool_id,
        client_ids=(apps_pool.application_clients["billing"],),
        group_prefix=settings.PORTAL_APPLICATION_GROUP_PREFIX,
        roles=tuple(settings.PORTAL_ROLES),
    )


@pytest.fixture
def billing_key(admin_user, apps_pool) -> str:
    """A plain API key of billing."""
    return app_services.api_key_issue(actor=admin_user, name="billing").plain


def portal_transport(url: str, headers: dict, timeout) -> tuple[int, dict]:
    """Serve cognito_access's feed requests with the portal itself (Django's test client), no network."""
    _, _, query = url.partition("?")
    feed = reverse("api_revocations")
    response = DjangoClient().get(f"{feed}?{query}", HTTP_AUTHORIZATION=headers["Authorization"])
    return response.status_code, response.json()


@pytest.fixture
def following(access_config, billing_key) -> Verifier:
    """A Verifier following the portal's feed, polled only when the test says so."""
    feed = RevocationFeed("http://portal.test/api/v1/revocations", billing_key, interval=0, transport=portal_transport)
    return Verifier(access_config, revocations=feed)


@pytest.fixture
def verifier(access_config) -> Verifier:
    """A fresh Verifier (its own key cache) for the pool."""
    return Verifier(access_config)


# --- The example application (examples/billing) -------------------------------------------------


@pytest.fixture
def example(apps_pool, access_config):
    """The example app configured for the test pool."""
    return billing.BillingApp(
        billing.Settings(
            access=access_config,
            client_id=apps_pool.application_clients["billing"],
            cognito_endpoint="https://cognito-idp.us-east-1.amazonaws.com/",
            secure_cookies=False,
        )
    )


@pytest.fixture
def example_browser(example):
    """A cookie-keeping client of the example app."""
    return Client(example)


def csrf(browser) -> str:
    """Return the CSRF token of the browser's session."""
    page = browser.get("/signin").get_data(as_text=True)
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def sign_in(browser, email: str, password: str = USER_PASSWORD):
    """Post the sign-in form."""
    return browser.post("/signin", data={"csrf": csrf(browser), "email": email, "password": password})


def features(page: str) -> dict[str, bool]:
    """Return feature -> unlocked from the features page."""
    return {name: f'data-feature="{name}">{name}: unlocked' in page for name, _ in billing.FEATURES}
