"""Shared Signals: the events as Security Event Tokens (CAEP), pushed (RFC 8935) or polled (RFC 8936), the JWKS,
and the pull feed and export."""

import json
from http import HTTPStatus

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from accounts.applications import services as app_services
from accounts.audit import outbox
from accounts.events import delivery, services, sets
from accounts.models import Delivery
from cognito_access import KeySet, MemoryStore, Receiver
from cognito_access import events as receiving

pytestmark = pytest.mark.django_db
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"


def emit(action: str = "role_change", sub: str = "sub-1", applications=("billing",)):
    """Write one outbox event."""
    return outbox.outbox_emit(
        action=action, sub=sub, applications=applications, before={}, after={"role": "b2"}, actor="t"
    )


@pytest.fixture
def portal_keys(client):
    """A cognito_access KeySet that reads the portal's JWKS through the test client."""
    keys = KeySet("http://testserver/.well-known/jwks.json")
    keys._fetch = lambda url: {key["kid"]: jwt.PyJWK(key) for key in client.get(url).json()["keys"]}
    return keys


def test_a_pushed_set_is_a_caep_token_the_portal_jwks_verifies(subscriber, subscribe, portal_keys, settings):
    subscribe(subscriber.url, format="set")
    event = emit("user_sign_out")
    delivery.deliver_due(pool_issuer=ISSUER)
    (received,) = subscriber.received
    assert received.headers["content-type"] == "application/secevent+jwt"
    store = MemoryStore()
    receiver = Receiver(store=store, set_keys=portal_keys, set_issuer=settings.PORTAL_EVENTS_ISSUER, audience="billing")
    assert receiver.receive(received.headers, received.body) == (202, {})
    claims = jwt.decode(received.body, options={"verify_signature": False})
    assert claims["jti"] == str(event.pk) and claims["sub_id"] == {"format": "iss_sub", "iss": ISSUER, "sub": "sub-1"}
    assert list(claims["events"]) == [sets.SESSION_REVOKED]
    assert store.refusal("sub-1", event.at.timestamp() - 1) == receiving.VOIDED
    assert receiver.receive(received.headers, received.body) == (202, {})  # a repeat: acknowledged, not re-applied


def test_a_role_change_is_token_claims_change(subscriber, subscribe):
    subscribe(subscriber.url, format="set")
    emit("role_change")
    delivery.deliver_due(pool_issuer=ISSUER)
    claims = jwt.decode(subscriber.received[0].body, options={"verify_signature": False})
    (payload,) = claims["events"].values()
    assert list(claims["events"]) == [sets.CLAIMS_CHANGE] and payload["claims"] == {"role": "b2"}


def test_a_set_for_another_audience_or_forged_is_refused(portal_keys, settings):
    event = emit()
    claims = sets.set_claims(event, audience="crm", pool_issuer=ISSUER)
    receiver = Receiver(
        store=MemoryStore(), set_keys=portal_keys, set_issuer=settings.PORTAL_EVENTS_ISSUER, audience="billing"
    )
    headers = {"Content-Type": "application/secevent+jwt"}
    assert receiver.receive(headers, sets.set_sign(claims).encode())[1]["err"] == "authentication_failed"
    claims["aud"] = "billing"
    forged = jwt.encode(claims, sets.key_create().private_pem, algorithm="RS256", headers={"kid": "nope"})
    assert receiver.receive(headers, forged.encode())[0] == 400


def test_a_rotated_key_keeps_the_old_one_published(client, admin_user):
    first = sets.signing_key().kid
    second = services.signing_key_rotate(actor=admin_user)
    kids = [key["kid"] for key in client.get(reverse("events_jwks")).json()["keys"]]
    assert sorted(kids) == sorted([first, second]) and sets.signing_key().kid == second


def test_enable_has_no_set_and_is_marked_done(subscriber, subscribe):
    subscribe(subscriber.url, format="set")
    emit("user_enable")
    delivery.deliver_due(pool_issuer=ISSUER)
    assert not subscriber.received and Delivery.objects.get().last_error == delivery.NO_SET


@pytest.fixture
def billing_key(admin_user):
    return app_services.api_key_issue(actor=admin_user, name="billing").plain


def test_the_poll_returns_sets_until_they_are_acknowledged(admin_user, billing_key, events_settings):
    services.subscription_create(actor=admin_user, application="billing", url="", types=[], format="poll")
    first, second = emit(sub="u1"), emit(sub="u2")
    emit(sub="u3", applications=["crm"])
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    answer = api.post(reverse("api_events_poll"), {"maxEvents": 1}, content_type="application/json").json()
    assert list(answer["sets"]) == [str(first.pk)] and answer["moreAvailable"] is True
    answer = api.post(reverse("api_events_poll"), {"ack": [str(first.pk)]}, content_type="application/json").json()
    assert list(answer["sets"]) == [str(second.pk)] and answer["moreAvailable"] is False
    assert delivery.deliver_due(pool_issuer=ISSUER) == 0  # a polled subscription is never pushed


@pytest.mark.parametrize("body", ['{"ack": "1"}', '{"maxEvents": 1000}', "[]", "not json"])
def test_a_bad_poll_is_refused(billing_key, body):
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    answer = api.post(reverse("api_events_poll"), body, content_type="application/json")
    assert answer.status_code == HTTPStatus.BAD_REQUEST


def test_the_feed_serves_only_the_keys_application(billing_key, settings):
    mine, _other = emit(sub="u1"), emit(sub="u2", applications=["crm"])
    settings.PORTAL_ACCESS_CHECK_RATE_PER_MINUTE = 100
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    page = api.get(reverse("api_events"), {"after": "0"}).json()
    assert [event["id"] for event in page["events"]] == [mine.pk]
    assert page["next"] == "0"  # the events are too fresh for the cursor to pass them (a late commit is never lost)
    assert Client().get(reverse("api_events")).status_code == HTTPStatus.UNAUTHORIZED
    assert api.get(reverse("api_events"), {"after": "-1"}).status_code == HTTPStatus.BAD_REQUEST


def test_the_administrators_export_is_json_lines_from_a_cursor(admin_client):
    first, second = emit(sub="u1"), emit(sub="u2", applications=["crm"])
    response = admin_client.get(reverse("admin:accounts_subscription_export"), {"after": str(first.pk)})
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [line["id"] for line in lines] == [second.pk]
