"""Browser test of an application owner: signs in, sees only their application's users, revokes one, in Cognito."""

import pytest
from playwright.sync_api import expect

from accounts import cognito
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_sees_only_their_applications_users_and_revokes_one(page, owner_identity, make_cognito_user):
    carol = make_cognito_user("carol@example.com", apps=["billing", "crm"], name="Carol Both")
    bob = make_cognito_user("bob@example.com", apps=["crm"], name="Bob Crm")
    for user in (carol, bob):
        index_user(user)

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/admin/accounts/directoryentry/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("carol@example.com")
    expect(page.locator("#result_list")).not_to_contain_text("bob@example.com")

    page.get_by_role("link", name="carol@example.com").click()
    expect(page.locator("#access-scope")).to_be_visible()
    expect(page.locator("#role-form")).to_have_count(0)
    page.locator("#access-form input[value=billing]").uncheck()
    page.fill("#access-form input[name=reason]", "left the billing team")
    page.click("#access-submit")
    expect(page.locator("#confirm-details")).to_contain_text("billing")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text("Revoked billing.")
    assert sorted(cognito.user_groups(carol.sub)) == ["app-crm"]  # crm, not theirs, kept
    assert sorted(cognito.user_groups(bob.sub)) == ["app-crm"]
