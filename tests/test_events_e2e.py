"""End to end: a change in the portal reaches the example application on loopback, which refuses the old token.

The portal's view makes the change; the outbox event is committed with its audit event, which queues a
delivery run; the task worker signs and POSTs it to the example application served on 127.0.0.1; the
application's next request with the token issued before the change is refused. The time from the change to
the refusal is measured and reported (record_property), not asserted.
"""

import time
from http import HTTPStatus

import pytest
import requests
from django.urls import reverse

from accounts.models import Delivery
from examples.billing import app as billing
from tests import tokens_helpers as forge
from tests.bulk import run_worker
from tests.support.events import wsgi_start
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def served_example(apps_pool, access_config, subscribe):
    """The example application served on loopback, subscribed to the portal's events with its secret."""
    served = {}
    base, server = wsgi_start(lambda environ, start_response: served["app"](environ, start_response))
    _subscription, secret = subscribe(f"{base}/events")
    served["app"] = billing.BillingApp(
        billing.Settings(
            access=access_config,
            client_id=apps_pool.application_clients["billing"],
            cognito_endpoint="https://cognito-idp.us-east-1.amazonaws.com/",
            secure_cookies=False,
            webhook_secret=secret,
        )
    )
    yield base
    server.shutdown()
    server.server_close()


def token_issued_before(sub: str, config) -> str:
    """Return a B2 token of billing's client for the user, issued a second ago (moto's key signs it).

    A token really issued in the same second as the change carries an `iat` that cannot tell which came first.
    """
    claims = forge.claims_for(
        config.issuer,
        config.client_ids[0],
        sub=sub,
        iat=int(time.time()) - 1,
        **{"cognito:groups": ["app-billing", "app-crm"], "custom:role_b": "2"},
    )
    return forge.sign(claims)


def features_status(base: str, token: str) -> int:
    """Return the status the example application answers the token with."""
    return requests.get(f"{base}/api/features", headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code


CHANGES = {
    "role change": ("admin:accounts_directoryentry_role", {"role": "a", "level": "3", "shown": "b2"}),
    "revoke": ("admin:accounts_directoryentry_access", {"applications": ["crm"], "confirm": "on"}),
    "disable": ("admin:accounts_directoryentry_disable", {"confirm": "on"}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_in_the_portal_makes_the_example_app_refuse_the_old_token(
    change,
    admin_client,
    make_cognito_user,
    access_config,
    served_example,
    django_capture_on_commit_callbacks,
    record_property,
):
    user = make_cognito_user(f"{change.replace(' ', '-')}@example.com", role=("b", 2), apps=["billing", "crm"])
    index_user(user)
    token = token_issued_before(user.sub, access_config)
    assert features_status(served_example, token) == HTTPStatus.OK
    name, form = CHANGES[change]
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(name, args=[user.sub]), form)
    assert response.status_code == HTTPStatus.FOUND
    assert features_status(served_example, token) == HTTPStatus.OK  # nothing is sent from the web request
    run_worker()  # the queued delivery run
    refused = features_status(served_example, token)
    elapsed = time.monotonic() - started
    assert refused == HTTPStatus.UNAUTHORIZED
    assert Delivery.objects.get().status == Delivery.DELIVERED
    record_property("change_to_refusal_seconds", round(elapsed, 3))
    print(f"{change}: change to refusal {elapsed * 1000:.0f} ms")
