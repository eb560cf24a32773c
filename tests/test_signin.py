"""Staff sign-in through the views, every path against moto; faults moto cannot produce are simulated."""

import logging
from http import HTTPStatus

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import cognito
from accounts.models import AuditEvent, User
from accounts.rules import permissions
from accounts.signin import flows
from accounts.signin.forms import CODE_ERROR
from tests.conftest import STAFF_PASSWORD, USER_PASSWORD
from tests.faults import cognito_fault

LOGIN = reverse("accounts:login")
NEW_PASSWORD = "Fresh-Password-2!"


def sign_in(client, email, password, **extra):
    """Post the sign-in form."""
    return client.post(LOGIN, {"email": email, "password": password}, **extra)


def messages_of(response) -> list[str]:
    """Return the flash messages on a rendered response."""
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.mark.django_db
def test_sign_in_page_renders_with_a_csrf_token(client):
    response = client.get(LOGIN)
    assert response.status_code == HTTPStatus.OK
    assert b"csrfmiddlewaretoken" in response.content


@pytest.mark.django_db
def test_administrator_signs_in_with_one_cognito_call(client, admin_identity):
    with cognito.count_calls() as calls:
        response = sign_in(client, "Admin@Example.com", STAFF_PASSWORD)
    assert response.status_code == HTTPStatus.FOUND and response.url == reverse("home")
    assert dict(calls) == {"AdminInitiateAuth": 1}
    user = User.objects.get(cognito_sub=admin_identity.sub)
    assert (user.email, user.first_name, user.is_staff, user.is_superuser) == (
        "admin@example.com",
        "Ada Admin",
        True,
        False,
    )
    assert permissions.standing_of(user) == permissions.ADMIN
    assert not user.has_usable_password()
    assert AuditEvent.objects.filter(action="sign_in", outcome="success", target="admin@example.com").count() == 1


@pytest.mark.django_db
def test_pages_between_revalidations_make_no_cognito_call(client, admin_identity):
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    with cognito.count_calls() as calls:
        assert client.get(reverse("home")).status_code == HTTPStatus.OK
    assert sum(calls.values()) == 0


@pytest.mark.django_db
def test_help_desk_member_gets_the_help_desk_standing(client, helpdesk_identity):
    sign_in(client, "desk@example.com", STAFF_PASSWORD)
    user = User.objects.get(cognito_sub=helpdesk_identity.sub)
    assert permissions.standing_of(user) == permissions.HELPDESK
    assert user.has_perm("accounts.change_role") and not user.has_perm("accounts.delete_user")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email, password",
    [
        ("admin@example.com", "Wrong-Password-9!"),
        ("nobody@example.com", STAFF_PASSWORD),
        ("disabled@example.com", USER_PASSWORD),
    ],
)
def test_bad_credentials_get_one_generic_message(client, admin_identity, make_cognito_user, email, password):
    make_cognito_user("disabled@example.com", staff="admin")
    cognito.user_disable("disabled@example.com")
    response = sign_in(client, email, password)
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].non_field_errors() == [flows.common.BAD_CREDENTIALS]
    assert SESSION_KEY not in client.session
    assert AuditEvent.objects.get(action="sign_in").outcome == AuditEvent.FAILURE


@pytest.mark.django_db
def test_valid_account_without_staff_standing_is_refused(client, make_cognito_user):
    make_cognito_user("plain@example.com", apps=["billing"])
    response = sign_in(client, "plain@example.com", USER_PASSWORD)
    assert response.context["form"].non_field_errors() == [flows.common.NOT_STAFF]
    assert not User.objects.filter(email="plain@example.com").exists()


@pytest.mark.django_db
def test_invalid_form_changes_nothing(client, pool):
    with cognito.count_calls() as calls:
        response = sign_in(client, "not-an-email", "")
    assert response.status_code == HTTPStatus.OK
    assert set(response.context["form"].errors) == {"email", "password"}
    assert sum(calls.values()) == 0 and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_first_sign_in_with_a_temporary_password_sets_a_new_one(client, pool):
    cognito.user_create(
        "newbie@example.com", {"name": "New Bie"}, temporary_password="Temp-Password-1!", send_invitation=False
    )
    cognito.user_add_to_group("newbie@example.com", "portal-helpdesk")
    response = sign_in(client, "newbie@example.com", "Temp-Password-1!")
    assert response.url == reverse("accounts:login_new_password")
    page = client.get(response.url)
    assert "at least 12 characters" in page.content.decode()
    weak = client.post(response.url, {"new_password": "short", "confirm_password": "short"})
    assert "at least 12 characters" in str(weak.context["form"].errors["new_password"])
    done = client.post(response.url, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert done.url == reverse("home")
    assert cognito.auth_password("newbie@example.com", NEW_PASSWORD).signed_in


@pytest.mark.django_db
def test_password_reset_by_an_administrator_leads_to_forgot_password_simulated(client, admin_identity):
    with cognito_fault("PasswordResetRequiredException", operations={"AdminInitiateAuth"}):
        response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.url == reverse("accounts:password_forgot")


@pytest.mark.django_db
def test_after_an_administrators_reset_the_old_password_leads_to_the_code_page_not_a_new_password(
    client, admin_identity, settings
):
    settings.COGNITO_EMBEDDED = True
    cognito.user_reset_password("admin@example.com")
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.url == reverse("accounts:password_forgot")
    assert client.get(reverse("accounts:login_new_password")).status_code != HTTPStatus.OK
    with pytest.raises(cognito.PasswordResetRequired):
        cognito.auth_password("admin@example.com", STAFF_PASSWORD)
    sent = client.post(reverse("accounts:password_forgot"), {"email": "admin@example.com"}, follow=True)
    code = next(m for m in messages_of(sent) if "the code is" in m).rsplit(" ", 1)[-1]
    client.post(
        reverse("accounts:password_forgot_confirm"),
        {"email": "admin@example.com", "code": code, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert sign_in(client, "admin@example.com", NEW_PASSWORD).url == reverse("home")


@pytest.mark.django_db
def test_forgot_password_with_the_emailed_code(client, admin_identity, settings):
    settings.COGNITO_EMBEDDED = True
    response = client.post(reverse("accounts:password_forgot"), {"email": "admin@example.com"}, follow=True)
    shown = [m for m in messages_of(response) if "the code is" in m]
    assert len(shown) == 1
    code = shown[0].rsplit(" ", 1)[-1]
    confirm = reverse("accounts:password_forgot_confirm")
    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(
        confirm,
        {"email": "admin@example.com", "code": wrong, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert refused.context["form"].non_field_errors() == [flows.common.BAD_CODE]
    accepted = client.post(
        confirm,
        {"email": "admin@example.com", "code": code, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert accepted.url == LOGIN
    assert sign_in(client, "admin@example.com", NEW_PASSWORD).url == reverse("home")


@pytest.mark.django_db
def test_forgot_password_never_shows_a_code_on_a_real_pool(client, admin_identity, settings):
    settings.COGNITO_EMBEDDED = False
    response = client.post(reverse("accounts:password_forgot"), {"email": "admin@example.com"}, follow=True)
    assert not [m for m in messages_of(response) if "the code is" in m]


@pytest.mark.django_db
def test_forgot_password_for_an_unknown_email_says_the_same(client, pool):
    response = client.post(reverse("accounts:password_forgot"), {"email": "ghost@example.com"}, follow=True)
    assert "If that account exists, we have emailed it a code." in messages_of(response)


@pytest.mark.django_db
def test_malformed_code_is_refused_by_the_form(client, pool):
    response = client.post(
        reverse("accounts:password_forgot_confirm"),
        {"email": "a@example.com", "code": "12ab", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert CODE_ERROR in response.context["form"].errors["code"]


def enrol_totp(client, totp) -> None:
    """Enrol TOTP from the account page of the signed-in client."""
    page = client.get(reverse("accounts:account_mfa"))
    assert page.status_code == HTTPStatus.OK and page.context["qr"].startswith("data:image/svg+xml;base64,")
    response = client.post(reverse("accounts:account_mfa"), {"code": totp(page.context["secret"])})
    assert response.url == reverse("accounts:account")
    client.post(reverse("accounts:logout"))
    return page.context["secret"]


@pytest.mark.django_db
def test_mfa_enrolled_from_the_account_page_is_asked_at_sign_in(client, admin_identity, totp):
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    secret = enrol_totp(client, totp)
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.url == reverse("accounts:login_mfa")
    wrong = client.post(response.url, {"code": "000000" if totp(secret) != "000000" else "111111"})
    assert wrong.context["form"].non_field_errors() == [flows.common.BAD_CODE]
    assert client.post(response.url, {"code": totp(secret)}).url == reverse("home")
    assert SESSION_KEY in client.session


@pytest.mark.django_db
def test_administrators_must_enrol_mfa_when_required(client, admin_identity, totp, settings):
    settings.PORTAL_REQUIRE_MFA_FOR_ADMINS = True
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.url == reverse("accounts:login_mfa_setup")
    assert SESSION_KEY not in client.session
    page = client.get(response.url)
    done = client.post(response.url, {"code": totp(page.context["secret"])})
    assert done.url == reverse("home")
    assert "SOFTWARE_TOKEN_MFA" in cognito.user_get("admin@example.com").mfa


@pytest.mark.django_db
def test_challenge_pages_without_a_pending_sign_in_send_back_to_sign_in(client, pool):
    for name in ("login_new_password", "login_mfa", "login_mfa_setup"):
        assert client.get(reverse(f"accounts:{name}")).url == LOGIN


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_from_that_address_even_with_the_right_password(
    client, admin_identity, settings
):
    settings.PORTAL_SIGNIN_MAX_FAILURES = 3
    for _ in range(3):
        sign_in(client, "admin@example.com", "Wrong-Password-9!")
    with cognito.count_calls() as calls:
        response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.context["form"].non_field_errors() == [flows.common.LOCKED]
    assert sum(calls.values()) == 0
    assert AuditEvent.objects.filter(action="sign_in", outcome="denied").count() == 1


@pytest.mark.django_db
def test_cognito_unreachable_during_sign_in_keeps_the_form(client, pool, settings):
    settings.COGNITO_ENDPOINT_URL = "http://127.0.0.1:9"
    response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert flows.common.UNAVAILABLE in messages_of(response)
    assert response.context["form"]["email"].value() == "admin@example.com"


@pytest.mark.django_db
def test_cognito_throttling_during_sign_in_is_a_clear_message_simulated(client, admin_identity):
    with cognito_fault("TooManyRequestsException", operations={"AdminInitiateAuth"}):
        response = sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert flows.common.BUSY in messages_of(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target, expected",
    [
        ("/accounts/account/", "/accounts/account/"),
        ("https://evil.example.com/steal", "/"),
        ("//evil.example.com/", "/"),
    ],
)
def test_next_only_leads_to_this_host(client, admin_identity, target, expected):
    client.get(LOGIN, {"next": target})
    assert sign_in(client, "admin@example.com", STAFF_PASSWORD).url == expected


@pytest.mark.django_db
def test_session_key_changes_at_sign_in(client, admin_identity):
    client.get(LOGIN, {"next": "/"})
    before = client.session.session_key
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    assert client.session.session_key != before


@pytest.mark.django_db
def test_no_password_or_token_reaches_the_log(client, admin_identity, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    tokens_kept = client.session[flows.common.TOKENS]
    text = caplog.text
    assert STAFF_PASSWORD not in text
    assert all(tokens_kept[kind][:40] not in text for kind in ("id", "access", "refresh"))


@pytest.mark.django_db
def test_sign_out_is_post_only_and_revokes_the_refresh_token(client, admin_identity):
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    refresh = client.session[flows.common.TOKENS]["refresh"]
    assert client.get(reverse("accounts:logout")).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert client.post(reverse("accounts:logout")).url == LOGIN
    assert SESSION_KEY not in client.session
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(admin_identity.sub, refresh)


@pytest.mark.django_db
def test_sign_out_everywhere_ends_the_other_sessions(client, admin_identity, django_user_model):
    from django.test import Client

    other = Client()
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    sign_in(other, "admin@example.com", STAFF_PASSWORD)
    assert client.post(reverse("accounts:account_sign_out_everywhere")).url == LOGIN
    assert other.get(reverse("home")).status_code == HTTPStatus.FOUND
    assert AuditEvent.objects.filter(action="sign_out_everywhere", outcome="success").count() == 1


@pytest.mark.django_db
def test_account_page_shows_standing_and_mfa_in_one_call(client, admin_identity):
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    with cognito.count_calls() as calls:
        page = client.get(reverse("accounts:account"))
    assert dict(calls) == {"AdminGetUser": 1}
    text = page.content.decode()
    assert "Administrator" in text and "admin@example.com" in text and page.context["mfa_on"] is False


@pytest.mark.django_db
def test_account_password_change(client, admin_identity):
    sign_in(client, "admin@example.com", STAFF_PASSWORD)
    url = reverse("accounts:account_password")
    wrong = client.post(
        url, {"old_password": "Not-The-One-1!", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert wrong.context["form"].non_field_errors() == ["The current password is not right."]
    mismatch = client.post(
        url, {"old_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"}
    )
    assert "The two passwords are not the same." in mismatch.context["form"].errors["confirm_password"]
    done = client.post(
        url, {"old_password": STAFF_PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert done.url == reverse("accounts:account")
    assert cognito.auth_password("admin@example.com", NEW_PASSWORD).signed_in


@pytest.mark.django_db
def test_account_pages_need_a_signed_in_user(client, pool):
    for name in ("account", "account_password", "account_mfa"):
        response = client.get(reverse(f"accounts:{name}"))
        assert response.status_code == HTTPStatus.FOUND and response.url.startswith(LOGIN)
    assert client.post(reverse("accounts:account_sign_out_everywhere")).url.startswith(LOGIN)


@pytest.mark.django_db
def test_pool_requiring_mfa_leads_a_new_user_through_mfa_setup(client, pool, totp):
    cognito.pool_set_mfa(pool.pool_id, "ON")
    cognito.user_create(
        "fresh@example.com", {"name": "Fresh"}, temporary_password="Temp-Password-1!", send_invitation=False
    )
    cognito.user_add_to_group("fresh@example.com", "portal-helpdesk")
    first = sign_in(client, "fresh@example.com", "Temp-Password-1!")
    second = client.post(first.url, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert second.url == reverse("accounts:login_mfa_setup")
    page = client.get(second.url)
    assert page.context["qr"].startswith("data:image/svg+xml")
    assert client.post(second.url, {"code": totp(page.context["secret"])}).url == reverse("home")
    assert SESSION_KEY in client.session
