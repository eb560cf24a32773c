"""The gateway against moto, and the faults moto cannot produce (simulated at the gateway)."""

import time

import pytest

from accounts import cognito
from accounts.rules import roles
from tests.conftest import USER_PASSWORD
from tests.faults import cognito_fault


def test_secret_hash_matches_a_known_vector():
    # echo -n "alice@example.comclient123" | openssl dgst -sha256 -hmac "secret456" -binary | base64
    assert cognito.secret_hash("alice@example.com", "client123", "secret456") == (
        "VBQmj4yOlg2dnLjdFUcJTQKJxJp8nnjFCjgK0LPAsao="
    )


def test_create_get_and_list_users(pool):
    created = cognito.user_create(
        "Alice@Example.com", {"name": "Alice", **roles.attributes_for(roles.Role("b", 2))}, send_invitation=False
    )
    fetched = cognito.user_get("alice@example.com")
    assert fetched.sub == created.sub
    assert fetched.email == "alice@example.com"
    assert roles.role_of(fetched.attributes) == roles.Role("b", 2)
    assert [u.email for u in cognito.users_list()] == ["alice@example.com"]


def test_unknown_user_raises_user_not_found(pool):
    with pytest.raises(cognito.UserNotFound):
        cognito.user_get("nobody@example.com")


def test_duplicate_email_raises_user_exists(pool, make_cognito_user):
    make_cognito_user("bob@example.com")
    with pytest.raises(cognito.UserExists):
        cognito.user_create("BOB@example.com", {}, send_invitation=False)


def test_groups_add_list_remove(pool, make_cognito_user):
    make_cognito_user("carol@example.com", apps=["billing", "crm"])
    assert sorted(cognito.user_groups("carol@example.com")) == ["app-billing", "app-crm"]
    cognito.user_remove_from_group("carol@example.com", "app-crm")
    assert cognito.user_groups("carol@example.com") == ["app-billing"]
    assert [u.email for u in cognito.users_in_group("app-billing")] == ["carol@example.com"]


def test_paginated_listing_reads_every_page(pool, make_cognito_user):
    for n in range(7):
        cognito.user_create(f"u{n}@example.com", {}, send_invitation=False)
    with cognito.count_calls() as calls:
        emails = [u.email for u in cognito.users_list(page_size=3)]
    assert len(emails) == 7
    assert calls["ListUsers"] == 3


def test_password_sign_in_sends_the_secret_hash(pool, make_cognito_user):
    make_cognito_user("dan@example.com")
    result = cognito.auth_password("DAN@example.com", USER_PASSWORD)
    assert result.signed_in and result.refresh_token


def test_wrong_password_raises_not_authorized(pool, make_cognito_user):
    make_cognito_user("erin@example.com")
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_password("erin@example.com", "Wrong-Password-1!")


def test_count_calls_counts_each_operation(pool, make_cognito_user):
    make_cognito_user("fay@example.com", apps=["hr"])
    with cognito.count_calls() as calls:
        cognito.user_get("fay@example.com")
        cognito.user_groups("fay@example.com")
    assert dict(calls) == {"AdminGetUser": 1, "AdminListGroupsForUser": 1}


def test_throttling_is_retried_with_backoff_then_succeeds_simulated(pool, make_cognito_user):
    make_cognito_user("gus@example.com")
    with cognito_fault("TooManyRequestsException", times=2) as failed:
        user = cognito.user_get("gus@example.com")
    assert user.email == "gus@example.com"
    assert failed == ["AdminGetUser", "AdminGetUser"]


def test_throttling_that_never_ends_raises_throttled_simulated(pool, settings):
    with cognito_fault("TooManyRequestsException") as failed, pytest.raises(cognito.Throttled):
        cognito.user_get("anyone@example.com")
    assert len(failed) == settings.COGNITO_MAX_ATTEMPTS


@pytest.mark.parametrize("left", [0.2, 0.99, 1.0, 1.4, 2.0, 2.6, 5.0, 7.9, 8.0, 25.0])
def test_each_attempt_in_a_budget_fits_its_timeouts_in_the_time_left(left, settings):
    settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT = 3, 10
    timeouts = cognito.attempt_timeouts(left)
    if left < 2 * cognito.STEP:
        assert timeouts is None  # too little left for an attempt worth making
        return
    connect, read = timeouts
    assert 0 < connect <= 3 and 0 < read <= 10 and connect + read <= left


def test_a_nested_budget_only_shortens_the_deadline():
    assert cognito.remaining() is None  # outside a web request: no budget, botocore's retries
    with cognito.budget(8):
        with cognito.budget(30):
            assert cognito.remaining() <= 8
        with cognito.budget(2):
            assert cognito.remaining() <= 2
    assert cognito.remaining() is None


@pytest.mark.parametrize("code", ["LimitExceededException", "TooManyFailedAttemptsException"])
def test_cognitos_per_user_limits_are_not_the_busy_or_down_fault_simulated(pool, code):
    with cognito_fault(code) as failed, pytest.raises(cognito.TooManyAttempts) as raised, cognito.budget(8):
        cognito.user_get("anyone@example.com")
    assert not isinstance(raised.value, cognito.CognitoFault) and failed == ["AdminGetUser"]  # not retried


def test_unreachable_endpoint_raises_cognito_unavailable(settings):
    settings.COGNITO_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.COGNITO_USER_POOL_ID = "us-east-1_missing"
    started = time.monotonic()
    with pytest.raises(cognito.CognitoUnavailable):
        cognito.user_get("anyone@example.com")
    assert time.monotonic() - started < 10


def test_missing_pool_setting_names_the_variable(settings):
    settings.COGNITO_USER_POOL_ID = ""
    with pytest.raises(Exception, match="COGNITO_USER_POOL_ID"):
        cognito.user_get("anyone@example.com")


def test_group_role_arn_and_precedence_round_trip(pool):
    arn = "arn:aws:iam::123456789012:role/billing-access"
    cognito.group_create("app-extra", "Extra", role_arn=arn, precedence=5)
    group = cognito.group_get("app-extra")
    assert (group.role_arn, group.precedence, group.description) == (arn, 5, "Extra")
