"""Token verification: real tokens pass, every forgery is refused, keys are fetched once."""

import pytest

from accounts import cognito
from accounts.signin import tokens
from tests import tokens_helpers as forge
from tests.conftest import USER_PASSWORD


@pytest.fixture
def signed_in(pool, make_cognito_user):
    """A real sign-in's tokens for a user in two application groups."""
    make_cognito_user("tina@example.com", apps=["billing", "crm"])
    return cognito.auth_password("tina@example.com", USER_PASSWORD)


@pytest.fixture
def fetches(monkeypatch):
    """Count JWKS downloads."""
    tokens.keys.clear()
    count = []
    real = tokens.KeySet._fetch

    def counting(url):
        count.append(url)
        return real(url)

    monkeypatch.setattr(tokens.KeySet, "_fetch", staticmethod(counting))
    return count


def test_real_id_token_verifies_with_groups(signed_in, fetches):
    claims = tokens.verify_id_token(signed_in.id_token)
    assert claims.email == "tina@example.com"
    assert sorted(claims.groups) == ["app-billing", "app-crm"]


def test_real_access_token_verifies(signed_in, fetches, settings):
    claims = tokens.verify_access_token(signed_in.access_token)
    assert claims.raw["client_id"] == settings.COGNITO_APP_CLIENT_ID


def test_keys_are_fetched_once_for_many_verifications(signed_in, fetches):
    for _ in range(5):
        tokens.verify_id_token(signed_in.id_token)
    assert len(fetches) == 1


def test_unknown_kid_refetches_once_then_refuses(signed_in, fetches, settings):
    tokens.verify_id_token(signed_in.id_token)
    settings.COGNITO_JWKS_REFETCH_SECONDS = 0
    forged = forge.sign(forge.claims_for(tokens.issuer(), settings.COGNITO_APP_CLIENT_ID), kid="rotated")
    with pytest.raises(tokens.TokenError, match="unknown key"):
        tokens.verify_id_token(forged)
    assert len(fetches) == 2


def test_unknown_kid_does_not_refetch_within_the_window(signed_in, fetches, settings):
    tokens.verify_id_token(signed_in.id_token)
    settings.COGNITO_JWKS_REFETCH_SECONDS = 3600
    forged = forge.sign(forge.claims_for(tokens.issuer(), settings.COGNITO_APP_CLIENT_ID), kid="random-kid")
    for _ in range(3):
        with pytest.raises(tokens.TokenError):
            tokens.verify_id_token(forged)
    assert len(fetches) == 1


def test_token_with_good_claims_signed_by_the_pool_key_verifies(pool, fetches, settings):
    token = forge.sign(forge.claims_for(tokens.issuer(), settings.COGNITO_APP_CLIENT_ID))
    assert tokens.verify_id_token(token).groups == ("portal-admins",)


@pytest.mark.parametrize(
    "make_token, reason",
    [
        (lambda iss, cid: forge.unsigned(forge.claims_for(iss, cid)), "not signed with RS256"),
        (lambda iss, cid: forge.hs256_with_public_key(forge.claims_for(iss, cid)), "not signed with RS256"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid), key=forge.other_key()), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for("https://evil.example.com/pool", cid)), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, "another-client")), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, token_use="access")), "not valid"),
        (lambda iss, cid: forge.sign(forge.claims_for(iss, cid, lifetime=-60)), "expired"),
        (lambda iss, cid: "not.a.token", "malformed"),
    ],
    ids=[
        "alg-none",
        "hs256-with-public-key",
        "other-key",
        "wrong-iss",
        "wrong-aud",
        "access-as-id",
        "expired",
        "garbage",
    ],
)
def test_forged_id_tokens_are_refused(pool, fetches, settings, make_token, reason):
    token = make_token(tokens.issuer(), settings.COGNITO_APP_CLIENT_ID)
    with pytest.raises(tokens.TokenError, match=reason):
        tokens.verify_id_token(token)


def test_id_token_offered_as_access_token_is_refused(signed_in, fetches):
    with pytest.raises(tokens.TokenError, match="not an access token"):
        tokens.verify_access_token(signed_in.id_token)


def test_access_token_of_another_client_is_refused(pool, fetches, settings):
    token = forge.sign(forge.claims_for(tokens.issuer(), "another-client", token_use="access"))
    with pytest.raises(tokens.TokenError, match="another client"):
        tokens.verify_access_token(token)


def test_unreachable_jwks_is_a_token_error(pool, settings, fetches):
    settings.COGNITO_JWKS_URL = "http://127.0.0.1:9/jwks.json"
    token = forge.sign(forge.claims_for(tokens.issuer(), settings.COGNITO_APP_CLIENT_ID))
    with pytest.raises(tokens.TokenError, match="signing keys could not be read"):
        tokens.verify_id_token(token)
