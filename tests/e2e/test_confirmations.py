"""Browser tests of the confirmation pages: each says what will happen; Cancel changes nothing in Cognito."""

import re

import pytest
from playwright.sync_api import expect

from accounts import cognito
from tests.conftest import USER_PASSWORD
from tests.support.staff import index_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def target(make_cognito_user):
    """A user holding billing and crm, in the directory."""
    user = make_cognito_user("target.person@example.com", role=("a", 1), apps=["billing", "crm"], name="Target")
    index_user(user)
    return user


def open_user(page, sub: str) -> None:
    """Open the user's page."""
    page.goto(f"/admin/accounts/directoryentry/{sub}/change/")
    expect(page.locator("#user-email")).to_contain_text("target.person@example.com")


def confirm_page(page, button: str, says: str) -> None:
    """Click an action on the user page and check its confirmation page names the user and what happens."""
    page.click(button)
    expect(page.locator("#confirm-who")).to_contain_text("target.person@example.com")
    expect(page.locator("#content-main")).to_contain_text(says)


def test_disable_is_confirmed_and_cancel_changes_nothing(sign_in_browser, admin_user, target):
    page = sign_in_browser(admin_user)
    open_user(page, target.sub)
    confirm_page(page, "#disable", "signed out of every application")
    page.click("#confirm-cancel")
    expect(page.locator("#user-enabled")).to_have_text("Enabled")
    assert cognito.user_get(target.sub).enabled
    confirm_page(page, "#disable", "signed out of every application")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text("target.person@example.com is disabled", ignore_case=True)
    assert not cognito.user_get(target.sub).enabled


def test_reset_password_is_confirmed_and_cancel_changes_nothing(sign_in_browser, admin_user, target):
    page = sign_in_browser(admin_user)
    open_user(page, target.sub)
    confirm_page(page, "#reset-password", "Their current password stops working")
    page.click("#confirm-cancel")
    assert cognito.user_get(target.sub).status == "CONFIRMED"
    confirm_page(page, "#reset-password", "Their current password stops working")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text("Cognito sent a password reset code", ignore_case=True)
    assert cognito.user_get(target.sub).status == "RESET_REQUIRED"


def test_sign_out_everywhere_is_confirmed_and_cancel_changes_nothing(sign_in_browser, admin_user, target):
    session = cognito.auth_password("target.person@example.com", USER_PASSWORD)
    page = sign_in_browser(admin_user)
    open_user(page, target.sub)
    confirm_page(page, "#sign-out", "signed out of every application")
    page.click("#confirm-cancel")
    assert cognito.auth_refresh(target.sub, session.refresh_token).signed_in  # still signed in
    confirm_page(page, "#sign-out", "signed out of every application")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text("is signed out everywhere", ignore_case=True)
    with pytest.raises(cognito.NotAuthorized):
        cognito.auth_refresh(target.sub, session.refresh_token)


def test_revoking_an_application_is_confirmed_and_cancel_changes_nothing(sign_in_browser, admin_user, target):
    page = sign_in_browser(admin_user)
    open_user(page, target.sub)
    page.get_by_label(re.compile(r"^\s*billing — ")).uncheck()
    page.click("#access-submit")
    expect(page.locator("#confirm-details")).to_contain_text("Revoke: billing")
    expect(page.locator("#confirm-what")).to_contain_text("signs them out of every application")
    page.click("#confirm-cancel")
    assert sorted(cognito.user_groups(target.sub)) == ["app-billing", "app-crm"]
    page.get_by_label(re.compile(r"^\s*billing — ")).uncheck()
    page.click("#access-submit")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text("Revoked billing.", ignore_case=True)
    assert cognito.user_groups(target.sub) == ["app-crm"]
