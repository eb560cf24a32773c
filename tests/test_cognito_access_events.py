"""cognito_access receives the portal's events: verified, repeats dropped, and old tokens refused at once."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory
from standardwebhooks.webhooks import Webhook
from werkzeug.test import Client

from cognito_access import EventsEndpoint, MemoryStore, Receiver, TokenError, Verifier, django_view
from cognito_access import events as receiving
from tests import tokens_helpers as forge

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def webhook(
    kind: str = "role.changed",
    *,
    sub: str = "sub-1",
    at: float | None = None,
    msg_id: str = "evt_1",
    secret: str = SECRET,
    sent: datetime | None = None,
) -> tuple[dict, bytes]:
    """Return (headers, body) of a webhook the portal would send."""
    body = json.dumps({"type": kind, "data": {"sub": sub, "at": at or time.time()}})
    sent = sent or datetime.now(tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, sent, body),
        "content-type": "application/json",
    }
    return headers, body.encode()


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def receiver(store):
    return Receiver(store=store, secret=SECRET)


def test_a_signed_role_change_makes_older_tokens_stale(receiver, store):
    issued = time.time() - 60
    assert receiver.receive(*webhook(at=issued + 30)) == (200, {"received": True})
    assert store.refusal("sub-1", issued) == receiving.CHANGED
    assert store.refusal("sub-1", issued + 31) == "" and store.refusal("sub-2", issued) == ""


def test_a_sign_out_voids_older_tokens(receiver, store):
    receiver.receive(*webhook("user.signed_out", at=1000.0))
    assert store.refusal("sub-1", 999) == receiving.VOIDED


def test_a_forged_signature_is_refused_and_changes_nothing(receiver, store):
    headers, body = webhook(secret="whsec_" + "A" * 32)
    assert receiver.receive(headers, body) == (401, {"error": receiving.BAD_SIGNATURE})
    assert store.refusal("sub-1", 0) == ""


def test_a_tampered_body_is_refused(receiver, store):
    headers, body = webhook()
    assert receiver.receive(headers, body.replace(b"sub-1", b"sub-9"))[0] == 401


def test_an_old_timestamp_is_refused(receiver, store):
    headers, body = webhook(sent=datetime.now(tz=UTC) - timedelta(minutes=10))
    assert receiver.receive(headers, body)[0] == 401 and store.refusal("sub-1", 0) == ""


def test_a_repeated_id_is_acknowledged_but_not_applied_twice(receiver, store):
    assert receiver.receive(*webhook(at=100.0, msg_id="evt_7"))[1] == {"received": True}
    assert receiver.receive(*webhook(at=500.0, msg_id="evt_7")) == (200, {"duplicate": True})
    assert store.refusal("sub-1", 200) == ""


def test_missing_headers_are_refused(receiver):
    assert receiver.receive({}, b"{}")[0] == 401


def test_the_previous_secret_still_verifies_during_a_rotation(store):
    rotated = Receiver(store=store, secret="whsec_" + "B" * 32, previous_secret=SECRET)
    assert rotated.receive(*webhook())[0] == 200


def test_the_wsgi_endpoint_and_the_django_view(receiver, store):
    headers, body = webhook("user.disabled", at=2000.0)
    answer = Client(EventsEndpoint(receiver)).post("/events", data=body, headers=headers)
    assert answer.status_code == 200 and store.refusal("sub-1", 1999) == receiving.VOIDED
    view = django_view(receiver)
    headers, body = webhook("user.deleted", at=3000.0, msg_id="evt_2", sub="sub-2")
    request = RequestFactory().post(
        "/events",
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "content-type"},
    )
    assert view(request).status_code == 200 and store.refusal("sub-2", 2999) == receiving.VOIDED
    assert Client(EventsEndpoint(receiver)).get("/events").status_code == 405


def test_the_verifier_refuses_a_token_issued_before_a_received_change(access_config, store, receiver):
    verifier = Verifier(access_config, events=store)
    claims = forge.claims_for(access_config.issuer, access_config.client_ids[0], sub="sub-1", iat=int(time.time()) - 5)
    token = forge.sign(claims)
    assert verifier.verify(token, "id").sub == "sub-1"
    receiver.receive(*webhook(at=time.time()))
    with pytest.raises(TokenError, match="out of date"):
        verifier.verify(token, "id")
