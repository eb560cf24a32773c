"""Revocations that hold: after the portal signs a user out everywhere, the access-check API and the
applications following the revocation feed refuse every token issued before."""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.directory import revocations, services
from accounts.models import DirectoryEntry, Revocation
from cognito_access import RevocationFeed, TokenError, Verifier
from tests.support.apps import portal_transport, token_after_revocations
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db

CHECK, FEED = reverse("api_access_check"), reverse("api_revocations")


def check(key: str, token: str):
    """Ask the access-check API about a token for billing."""
    return Client().post(
        CHECK,
        json.dumps({"token": token, "application": "billing"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )


@pytest.fixture
def bella(make_cognito_user, app_sign_in):
    """A B2 user of billing, indexed, with tokens from the applications' client."""
    user = make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"])
    index_user(user)
    return user, app_sign_in("bella@example.com")


def later_token(sub: str, settings, *, token_use: str = "id") -> str:
    """Return a token of this user issued after their revocations."""
    return token_after_revocations(sub, token_use=token_use)


WRITES = {
    "sign_out": lambda actor, sub: services.user_sign_out(actor=actor, sub=sub),
    "role_change": lambda actor, sub: services.role_change(actor=actor, sub=sub, role="c", level=1, shown="b2"),
    "revoke": lambda actor, sub: services.access_set(actor=actor, sub=sub, applications=["crm"]),
    "disable": lambda actor, sub: services.user_disable(actor=actor, sub=sub),
}


def test_after_sign_out_everywhere_the_api_refuses_the_old_id_and_access_tokens(billing_key, bella, admin_user):
    user, signed_in = bella
    assert check(billing_key, signed_in["IdToken"]).json()["allowed"] is True
    services.user_sign_out(actor=admin_user, sub=user.sub)
    for token in (signed_in["IdToken"], signed_in["AccessToken"]):
        response = check(billing_key, token)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response.json() == {"error": "Unauthorized: check the API key and the user's token."}


def test_a_token_issued_after_the_sign_out_is_answered(billing_key, bella, admin_user, settings):
    user, _ = bella
    services.user_sign_out(actor=admin_user, sub=user.sub)
    for use in ("id", "access"):
        response = check(billing_key, later_token(user.sub, settings, token_use=use))
        assert response.status_code == HTTPStatus.OK and response.json()["allowed"] is True


@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_portal_sign_out_records_a_revocation(write, bella, admin_user):
    user, _ = bella
    before = timezone.now()
    WRITES[write](admin_user, user.sub)
    row = Revocation.objects.get(sub=user.sub)
    assert row.not_before >= before and row.reason == {
        "sign_out": "user_sign_out",
        "revoke": "access_set",
        "disable": "user_disable",
    }.get(write, write)


def test_a_deleted_user_is_revoked(bella, admin_user):
    user, _ = bella
    services.user_delete(actor=admin_user, sub=user.sub, confirmation="bella@example.com")
    assert Revocation.objects.get(sub=user.sub).reason == "user_delete"


def test_a_grant_alone_revokes_nothing(bella, admin_user):
    user, _ = bella
    services.access_grant(actor=admin_user, sub=user.sub, application="crm")
    assert not Revocation.objects.exists()


# --- The feed ---------------------------------------------------------------------------------------------


def feed(key: str, after: str = ""):
    """GET the revocation feed with an API key."""
    return Client().get(FEED, {"after": after} if after else {}, HTTP_AUTHORIZATION=f"Api-Key {key}")


def settled(*rows: Revocation) -> None:
    """Age rows past the feed's settle window."""
    Revocation.objects.filter(pk__in=[row.pk for row in rows]).update(
        recorded_at=timezone.now() - timedelta(seconds=revocations.SETTLE_SECONDS + 1)
    )


def test_the_feed_needs_an_api_key(billing_key):
    assert Client().get(FEED).status_code == HTTPStatus.UNAUTHORIZED
    assert feed("cak_000000000000_" + "A" * 43).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.parametrize("cursor", ["-1", "x", "1.5", "9" * 30])
def test_a_bad_cursor_is_400(billing_key, cursor):
    response = feed(billing_key, cursor)
    assert response.status_code == HTTPStatus.BAD_REQUEST and response.json() == {"error": revocations_bad()}


def revocations_bad() -> str:
    """Return the feed's bad-cursor message."""
    from accounts.applications import api

    return api.BAD_CURSOR


def test_the_feed_pages_in_order_and_its_cursor_skips_nothing(billing_key, monkeypatch):
    now = timezone.now()
    rows = [revocations.revocation_record(sub=f"sub-{n}", at=now, reason="test") for n in range(5)]
    settled(*rows[:3])
    monkeypatch.setattr(revocations, "PAGE_MAX", 2)
    first = feed(billing_key).json()
    assert [row["sub"] for row in first["revocations"]] == ["sub-0", "sub-1"] and first["more"] is True
    assert first["revocations"][0]["not_before"] == pytest.approx(now.timestamp())
    second = feed(billing_key, first["next"]).json()
    assert [row["sub"] for row in second["revocations"]] == ["sub-2", "sub-3"]
    # sub-3 is too fresh to move past (a row with a lower id may still be committing): it is served again
    assert second["next"] == str(rows[2].id) and second["more"] is True
    third = feed(billing_key, second["next"]).json()
    assert [row["sub"] for row in third["revocations"]] == ["sub-3", "sub-4"]
    assert third["next"] == second["next"] and third["more"] is False  # no progress: wait for the next poll


# --- cognito_access follows the feed -----------------------------------------------------------------------


def test_cognito_access_refuses_tokens_issued_before_a_revocation_once_it_polled(following, bella, admin_user):
    user, signed_in = bella
    assert following.check(signed_in["IdToken"], "billing").role == "b"
    services.user_sign_out(actor=admin_user, sub=user.sub)
    assert following.check(signed_in["IdToken"], "billing")  # not polled yet: the feed is not known
    assert following.revocations.poll() == 1
    for token in (signed_in["IdToken"], signed_in["AccessToken"]):
        with pytest.raises(TokenError, match="revoked"):
            following.check(token, "billing")


def test_cognito_access_accepts_a_token_issued_after_the_revocation(following, bella, admin_user, settings):
    user, _ = bella
    services.user_sign_out(actor=admin_user, sub=user.sub)
    token = later_token(user.sub, settings)
    following.revocations.poll()
    assert following.verify(token).sub == user.sub


def test_cognito_access_reads_only_what_is_new_at_each_poll(following, bella, admin_user):
    user, _ = bella
    services.user_sign_out(actor=admin_user, sub=user.sub)
    settled(*Revocation.objects.all())
    assert following.revocations.poll() == 1
    assert following.revocations.poll() == 0  # the cursor moved past the settled row


def test_an_unreadable_feed_is_logged_and_tokens_are_still_checked(access_config, bella, caplog):
    _, signed_in = bella
    down = RevocationFeed("http://127.0.0.1:9/api/v1/revocations", "cak_x", interval=3600, timeout=(0.2, 0.2))
    verifier = Verifier(access_config, revocations=down)
    assert verifier.check(signed_in["IdToken"], "billing").role == "b"
    assert "revocation feed could not be read" in caplog.text and "cak_x" not in caplog.text
    down.stop()


def test_config_with_a_feed_url_follows_it(access_config, billing_key):
    from dataclasses import replace

    verifier = Verifier(
        replace(
            access_config,
            revocations_url="http://portal.test/api/v1/revocations",
            api_key=billing_key,
            revocations_seconds=0,
        )
    )
    assert isinstance(verifier.revocations, RevocationFeed) and verifier.revocations.interval == 0
    assert billing_key not in repr(verifier.config)


def test_the_example_application_follows_the_feed_when_given_the_portal(apps_pool):
    from examples.billing import app as billing

    environ = {
        "COGNITO_USER_POOL_ID": apps_pool.pool_id,
        "COGNITO_APPLICATIONS_CLIENT_ID": "client",
        "EXAMPLE_PORTAL_URL": "http://127.0.0.1:8000/",
        "EXAMPLE_API_KEY": "cak_key",
    }
    example = billing.BillingApp(billing.Settings.from_environ(environ))
    assert example.verifier.revocations.url == "http://127.0.0.1:8000/api/v1/revocations"
    assert example.verifier.revocations.interval == 10


def test_the_example_application_ends_the_session_of_a_user_signed_out_in_the_portal(
    apps_pool, access_config, billing_key, make_cognito_user, admin_user
):
    from werkzeug.test import Client as Browser

    from examples.billing import app as billing
    from tests.apps_helpers import sign_in

    index_user(make_cognito_user("eve@example.com", role=("a", 1), apps=["billing"]))
    feed_ = RevocationFeed(FEED, billing_key, interval=0, transport=portal_transport)
    example = billing.BillingApp(
        billing.Settings(
            access=access_config,
            client_id=apps_pool.application_clients["billing"],
            cognito_endpoint="https://cognito-idp.us-east-1.amazonaws.com/",
            secure_cookies=False,
        )
    )
    example.verifier.revocations = feed_
    browser = Browser(example)
    sign_in(browser, "eve@example.com")
    assert '<b id="role">A1</b>' in browser.get("/").get_data(as_text=True)
    services.user_sign_out(actor=admin_user, sub=DirectoryEntry.objects.get(email="eve@example.com").sub)
    feed_.poll()
    assert "Your session ended" in browser.get("/", follow_redirects=True).get_data(as_text=True)


def test_a_staff_members_own_sign_out_voids_their_tokens_as_cognitos_global_sign_out_does(client, admin_identity):
    client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": "Staff-Password-1!"})
    client.post(reverse("accounts:account_sign_out_everywhere"))
    assert Revocation.objects.get(sub=admin_identity.sub).reason == "sign_out_everywhere"
