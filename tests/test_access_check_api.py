"""POST /api/v1/access-check: answers from the index at once, 0 Cognito calls, one 401 for every bad part."""

import json
import logging
import time
from datetime import UTC, datetime
from http import HTTPStatus

import jwt
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import cognito
from accounts.applications import access_check, api_keys
from accounts.applications import api as api_views
from accounts.applications import services as app_services
from accounts.applications.api import UNAUTHORIZED
from accounts.directory import services
from accounts.models import ApiKey, Application, Revocation
from accounts.signin import tokens
from tests import tokens_helpers as forge
from tests.conftest import USER_PASSWORD
from tests.support.apps import token_after_revocations
from tests.support.staff import index_user
from tests.support.wsgi import served

pytestmark = pytest.mark.django_db

URL = reverse("api_access_check")


@pytest.fixture(params=["endpoint", "view"])
def api(request, billing_key):
    """Call the API as billing, through the WSGI endpoint gunicorn serves it by and through the Django view
    (the test client, runserver); return the response."""
    client = Client(enforce_csrf_checks=True)  # the API must work without a CSRF token

    def call(token: str, application: str = "billing", key: str | None = None):
        headers = {"authorization": f"Api-Key {billing_key if key is None else key}"} if key != "" else {}
        body = json.dumps({"token": token, "application": application})
        if request.param == "endpoint":
            return served(URL, method="POST", body=body.encode(), **headers)
        meta = {f"HTTP_{name.upper()}": value for name, value in headers.items()}
        return client.post(URL, body, content_type="application/json", **meta)

    return call


@pytest.fixture
def bella(make_cognito_user, app_sign_in):
    """A B2 user of billing and crm, indexed, with tokens from the applications' client."""
    user = make_cognito_user("bella@example.com", role=("b", 2), apps=["billing", "crm"])
    index_user(user)
    return user, app_sign_in("bella@example.com")


def test_id_and_access_tokens_get_the_role_from_the_index(api, bella):
    _, signed_in = bella
    for token in (signed_in["IdToken"], signed_in["AccessToken"]):
        response = api(token)
        assert response.status_code == HTTPStatus.OK and response["Cache-Control"].startswith("max-age=0")
        assert response.json() == {"allowed": True, "role": "b", "level": 2, "applications": ["billing", "crm"]}


def test_a_check_makes_no_cognito_call(api, bella):
    _, signed_in = bella
    api(signed_in["IdToken"])  # the first one downloads the JWKS (not a Cognito API call either)
    with cognito.count_calls() as calls:
        for _ in range(20):
            assert api(signed_in["IdToken"]).json()["allowed"]
    assert sum(calls.values()) == 0


def after(user, settings) -> str:
    """Return a token of the user issued after the portal's sign-out of them."""
    return token_after_revocations(user.sub)


def test_a_role_change_is_answered_at_once(api, bella, admin_user, settings):
    user, signed_in = bella
    services.role_change(actor=admin_user, sub=user.sub, role="c", level=1, shown="b2")
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED  # signed out: issued before
    assert api(after(user, settings)).json() == {
        "allowed": True,
        "role": "c",
        "level": 1,
        "applications": ["billing", "crm"],
    }


def test_a_revoked_application_is_refused_at_once(api, bella, admin_user, settings):
    user, signed_in = bella
    services.access_set(actor=admin_user, sub=user.sub, applications=["crm"])
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED
    assert api(after(user, settings)).json() == {"allowed": False, "role": "b", "level": 2, "applications": ["crm"]}


def test_a_disabled_user_is_refused_at_once(api, bella, admin_user, settings):
    user, signed_in = bella
    services.user_disable(actor=admin_user, sub=user.sub)
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED
    assert api(after(user, settings)).json() == {"allowed": False, "role": None, "level": 0, "applications": []}


def test_a_user_missing_from_the_index_is_refused(api, make_cognito_user, app_sign_in):
    make_cognito_user("new@example.com", apps=["billing"])
    assert api(app_sign_in("new@example.com")["IdToken"]).json()["allowed"] is False


def test_drift_answers_no_role(api, bella):
    user, signed_in = bella
    cognito.user_update_attributes(user.sub, {"custom:role_a": "1"})
    index_user(user)
    assert api(signed_in["IdToken"]).json() == {
        "allowed": True,
        "role": None,
        "level": 0,
        "applications": ["billing", "crm"],
    }


def _forged(kind: str, settings) -> str:
    issuer, client = tokens.issuer(), Application.objects.get(name="billing").client_id
    return {
        "expired": lambda: forge.sign(forge.claims_for(issuer, client, lifetime=-60)),
        "other-key": lambda: forge.sign(forge.claims_for(issuer, client), key=forge.other_key()),
        "other-audience": lambda: forge.sign(forge.claims_for(issuer, settings.COGNITO_APP_CLIENT_ID)),
        "other-client-access": lambda: forge.sign(forge.claims_for(issuer, "x", token_use="access")),
        "alg-none": lambda: forge.unsigned(forge.claims_for(issuer, client)),
        "garbage": lambda: "garbage",
    }[kind]()


@pytest.mark.parametrize(
    "kind", ["expired", "other-key", "other-audience", "other-client-access", "alg-none", "garbage"]
)
def test_bad_tokens_get_the_same_401(api, bella, settings, kind):
    response = api(_forged(kind, settings))
    assert response.status_code == HTTPStatus.UNAUTHORIZED and response["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {"error": "Unauthorized: check the API key and the user's token."}


def test_portal_client_tokens_are_refused(api, bella):
    tokens_of_portal = cognito.auth_password("bella@example.com", USER_PASSWORD)
    assert api(tokens_of_portal.id_token).status_code == HTTPStatus.UNAUTHORIZED
    assert api(tokens_of_portal.access_token).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("key", ["", "wrong", "cak_000000000000_" + "A" * 43, "revoked", "tampered"])
def test_bad_keys_get_the_same_401(api, bella, billing_key, admin_user, key):
    _, signed_in = bella
    if key == "revoked":
        key = billing_key
        app_services.api_key_revoke(actor=admin_user, name="billing", key_id=ApiKey.objects.get().key_id)
    elif key == "tampered":
        key = billing_key[:-1] + ("A" if billing_key[-1] != "A" else "B")
    response = api(signed_in["IdToken"], key=key)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"error": "Unauthorized: check the API key and the user's token."}


@pytest.mark.parametrize("secret", ["_" * 43, "-" * 43, "a_b-" * 10 + "xyz"])
def test_a_key_is_read_whatever_its_secret_holds(secret):
    assert api_keys.key_id_of(f"cak_0123456789ab_{secret}") == "0123456789ab"


def test_another_applications_key_may_not_ask_about_billing(api, bella, admin_user, app_sign_in):
    crm_key = app_services.api_key_issue(actor=admin_user, name="crm").plain
    _, signed_in = bella
    crm_token = app_sign_in("bella@example.com", application="crm")["IdToken"]
    assert api(crm_token, application="crm", key=crm_key).json()["allowed"] is True
    response = api(signed_in["IdToken"], application="billing", key=crm_key)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json() == {"error": "This API key is crm's: it may only ask about crm."}
    assert api(signed_in["IdToken"], application="nope", key=crm_key).status_code == HTTPStatus.FORBIDDEN


def test_oversized_body_is_413_before_anything_else(billing_key, settings):
    body = json.dumps({"token": "x" * (settings.PORTAL_ACCESS_CHECK_MAX_BODY_BYTES + 1), "application": "billing"})
    response = Client().post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


@pytest.mark.parametrize("body", ["not json", "[]", '{"token": 1, "application": "billing"}', '{"token": "x"}', "\xff"])
def test_malformed_body_is_400(billing_key, body):
    response = Client().post(
        URL, body.encode("latin-1"), content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {billing_key}"
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST and "Send JSON" in response.json()["error"]


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post(billing_key, method):
    response = getattr(Client(), method)(URL, HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_rate_limited_per_key(api, bella, admin_user, settings):
    settings.PORTAL_ACCESS_CHECK_RATE_PER_MINUTE = 3
    _, signed_in = bella
    statuses = [api(signed_in["IdToken"]).status_code for _ in range(4)]
    assert statuses == [HTTPStatus.OK] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert 1 <= int(api(signed_in["IdToken"])["Retry-After"]) <= 60
    other = app_services.api_key_issue(actor=admin_user, name="billing").plain
    assert api(signed_in["IdToken"], key=other).status_code == HTTPStatus.OK


def test_unreadable_signing_keys_are_503(api, bella, settings):
    _, signed_in = bella
    tokens.keys.clear()
    settings.COGNITO_JWKS_URL = "http://127.0.0.1:9/jwks.json"
    response = api(signed_in["IdToken"])
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and response["Retry-After"]
    tokens.keys.clear()


def test_logs_name_the_key_and_user_but_never_the_token(api, bella, billing_key, caplog):
    _, signed_in = bella
    with caplog.at_level(logging.DEBUG, logger="accounts.api"):  # an allowed check is logged at DEBUG
        api(signed_in["IdToken"])
        api("forged-token-value")
    text = caplog.text
    assert "allowed=True" in text
    assert signed_in["IdToken"] not in text and "forged-token-value" not in text
    assert billing_key not in text and ApiKey.objects.get().key_id in text


def test_deeply_nested_json_is_400_without_a_traceback(billing_key, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().post(
            URL, "[" * 3000, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {billing_key}"
        )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"error": api_views.BAD_REQUEST}
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


def _console_formatter() -> logging.Formatter:
    """Return the formatter of the console handler that settings.LOGGING configured."""
    return next(handler.formatter for handler in logging.getLogger().handlers if handler.name == "console")


def test_a_newline_in_the_application_cannot_forge_a_log_line(api, bella, caplog):
    _, signed_in = bella
    forged = "crm\n2026-12-01 10:00:00,000 INFO accounts.api ok\x1b[2K"
    with caplog.at_level(logging.INFO, logger="accounts.api"):
        assert api(signed_in["IdToken"], application=forged).status_code == HTTPStatus.FORBIDDEN
    lines = [_console_formatter().format(record) for record in caplog.records if record.name == "accounts.api"]
    assert len(lines) == 1 and "\n" not in lines[0] and "\x1b" not in lines[0]
    assert "crm\\n2026-12-01" in lines[0] and "\\x1b[2K" in lines[0]


def test_a_billing_token_is_refused_for_crm(api, bella, admin_user, app_sign_in):
    crm_key = app_services.api_key_issue(actor=admin_user, name="crm").plain
    _, billing = bella  # bella holds both applications, and signed in to billing
    for token in (billing["IdToken"], billing["AccessToken"]):
        response = api(token, application="crm", key=crm_key)
        assert response.status_code == HTTPStatus.UNAUTHORIZED and response.json() == {"error": UNAUTHORIZED}
        assert api(token).json()["allowed"] is True  # billing's own key still gets its answer
    crm = app_sign_in("bella@example.com", application="crm")
    assert api(crm["AccessToken"], application="crm", key=crm_key).json()["allowed"] is True


def test_a_pool_with_one_shared_client_keeps_working_when_the_setting_says_so(
    api, bella, admin_user, apps_pool, settings
):
    shared = cognito.call(
        "initiate_auth",
        ClientId=apps_pool.applications_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bella@example.com", "PASSWORD": USER_PASSWORD},
    )
    token = shared["AuthenticationResult"]["IdToken"]
    assert api(token).status_code == HTTPStatus.UNAUTHORIZED  # by default, only billing's own client counts
    settings.PORTAL_APPLICATIONS_SHARE_CLIENT = True
    assert api(token).json()["allowed"] is True


# --- The API key cache: what another worker's change does, and how soon --------------------------------


def test_a_key_revoked_by_another_worker_gets_no_answer_at_once(api, bella):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK  # the key is now cached in this worker
    ApiKey.objects.update(revoked_at=timezone.now())  # another worker revokes it: this one's cache is not told
    response = api(signed_in["IdToken"])
    assert response.status_code == HTTPStatus.UNAUTHORIZED and response.json() == {"error": UNAUTHORIZED}


def test_a_key_revoked_here_is_forgotten_at_once(api, bella, admin_user):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    app_services.api_key_revoke(actor=admin_user, name="billing", key_id=ApiKey.objects.get().key_id)
    assert api("not-a-token").status_code == HTTPStatus.UNAUTHORIZED  # refused before the body is read


def test_another_workers_revocation_stops_every_reply_within_the_cache_time(api, bella, settings, monkeypatch):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    ApiKey.objects.update(revoked_at=timezone.now())
    later = time.monotonic() + settings.PORTAL_API_KEY_CACHE_SECONDS
    monkeypatch.setattr(access_check.time, "monotonic", lambda: later)
    assert api("not-a-token").status_code == HTTPStatus.UNAUTHORIZED


def test_without_a_cache_time_every_request_reads_the_key(api, bella, settings):
    settings.PORTAL_API_KEY_CACHE_SECONDS = 0
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    ApiKey.objects.update(revoked_at=timezone.now())
    assert api("not-a-token").status_code == HTTPStatus.UNAUTHORIZED


def test_an_application_client_changed_elsewhere_counts_after_the_cache_time(
    api, bella, settings, monkeypatch, billing_key
):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    Application.objects.filter(name="billing").update(client_id="another-client")
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK  # the cached key still carries the old client
    later = time.monotonic() + settings.PORTAL_API_KEY_CACHE_SECONDS
    monkeypatch.setattr(access_check.time, "monotonic", lambda: later)
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED


def test_an_unknown_key_id_is_not_kept(api, bella, admin_user):
    _, signed_in = bella
    plain = api_keys.make()
    assert api(signed_in["IdToken"], key=plain.plain).status_code == HTTPStatus.UNAUTHORIZED
    ApiKey.objects.create(
        application=Application.objects.get(name="billing"), key_id=plain.key_id, digest=plain.digest, created_by="t"
    )
    assert api(signed_in["IdToken"], key=plain.plain).status_code == HTTPStatus.OK


def test_the_revocation_feed_reads_the_key_on_every_request(billing_key, admin_user):
    feed = reverse("api_revocations")
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {billing_key}")
    assert client.get(feed).status_code == HTTPStatus.OK
    ApiKey.objects.update(revoked_at=timezone.now())
    assert client.get(feed).status_code == HTTPStatus.UNAUTHORIZED


def test_a_token_issued_before_a_revocation_is_refused_and_one_after_is_answered(api, bella):
    user, signed_in = bella
    issued = jwt.decode(signed_in["IdToken"], options={"verify_signature": False})["iat"]
    Revocation.objects.create(sub=user.sub, not_before=datetime.fromtimestamp(issued, UTC), reason="t")
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK  # not issued before it: the same second
    Revocation.objects.create(sub=user.sub, not_before=datetime.fromtimestamp(issued + 0.001, UTC), reason="t")
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED


def test_an_allowed_check_is_logged_at_debug_and_a_refusal_at_info(api, bella, caplog):
    _, signed_in = bella
    with caplog.at_level(logging.INFO, logger="accounts.api"):
        assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
        assert api("forged-token-value").status_code == HTTPStatus.UNAUTHORIZED
    said = [record.getMessage() for record in caplog.records if record.name == "accounts.api"]
    assert len(said) == 1 and said[0].startswith("access-check refused")


# --- Tokens verified before: what is checked again on every request ---------------------------------------


def test_a_token_checked_again_is_not_verified_again(api, bella, monkeypatch):
    _, signed_in = bella
    real, verified = tokens.verify_any, []
    monkeypatch.setattr(tokens, "verify_any", lambda *args: verified.append(args[0]) or real(*args))
    for _ in range(3):
        assert api(signed_in["IdToken"]).json()["allowed"] is True
    assert api(signed_in["AccessToken"]).json()["allowed"] is True
    assert verified == [signed_in["IdToken"], signed_in["AccessToken"]]  # each once


def test_a_remembered_token_that_expires_is_refused(api, bella, monkeypatch):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    expiry = jwt.decode(signed_in["IdToken"], options={"verify_signature": False})["exp"]
    monkeypatch.setattr(tokens.time, "time", lambda: expiry)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _clock_at(expiry))
    response = api(signed_in["IdToken"])
    assert response.status_code == HTTPStatus.UNAUTHORIZED and response.json() == {"error": UNAUTHORIZED}


def _clock_at(moment: float):
    """Return a stand-in for the datetime class PyJWT reads the time from, stopped at `moment`."""

    class Stopped(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(moment, tz)

    return Stopped


def test_a_remembered_token_is_still_refused_for_another_applications_key(api, bella, admin_user):
    _, signed_in = bella
    crm_key = app_services.api_key_issue(actor=admin_user, name="crm").plain
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    assert api(signed_in["IdToken"], application="crm", key=crm_key).status_code == HTTPStatus.UNAUTHORIZED


def test_a_remembered_token_is_verified_again_once_the_keys_are_read_again(api, bella, settings):
    _, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    tokens.keys.clear()
    settings.COGNITO_JWKS_URL = "http://127.0.0.1:9/jwks.json"  # the keys cannot be read now
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.SERVICE_UNAVAILABLE
    tokens.keys.clear()


def test_a_remembered_token_is_refused_once_its_user_is_signed_out(api, bella, admin_user):
    user, signed_in = bella
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    services.user_disable(actor=admin_user, sub=user.sub)
    assert api(signed_in["IdToken"]).status_code == HTTPStatus.UNAUTHORIZED


def test_no_token_is_remembered_when_the_setting_says_so(api, bella, settings, monkeypatch):
    settings.PORTAL_ACCESS_CHECK_VERIFIED_TOKENS = 0
    _, signed_in = bella
    real, verified = tokens.verify_any, []
    monkeypatch.setattr(tokens, "verify_any", lambda *args: verified.append(1) or real(*args))
    for _ in range(3):
        assert api(signed_in["IdToken"]).status_code == HTTPStatus.OK
    assert len(verified) == 3


def test_what_is_remembered_is_a_digest_never_the_token(api, bella):
    _, signed_in = bella
    api(signed_in["IdToken"])
    assert tokens._verified
    assert all(signed_in["IdToken"] not in repr(entry) for entry in tokens._verified)


def test_no_more_tokens_are_remembered_than_the_setting_allows(api, bella, settings):
    settings.PORTAL_ACCESS_CHECK_VERIFIED_TOKENS = 1
    _, signed_in = bella
    for token in (signed_in["IdToken"], signed_in["AccessToken"], signed_in["IdToken"]):
        assert api(token).status_code == HTTPStatus.OK
        assert len(tokens._verified) == 1
