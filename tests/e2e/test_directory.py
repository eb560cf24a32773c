"""Browser tests of user administration: what a person does, checked in Cognito itself."""

import re

import pytest
from playwright.sync_api import expect

from accounts import cognito
from accounts.directory import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def directory(pool, make_cognito_user):
    """A few users in Cognito and in the directory; returns the one the tests work on."""
    make_cognito_user("tara.other@example.com", role=("c", 1), name="Tara Other")
    make_cognito_user("zed@example.com", role=("a", 2), apps=["docs"], name="Zed Zulu")
    target = make_cognito_user("target.person@example.com", role=("a", 1), apps=[], name="Target Person")
    services.directory_sync(actor="test")
    return target


def find_user(page, typed: str, email: str) -> None:
    """Search the directory and open a user's page."""
    page.goto("/admin/accounts/directoryentry/")
    page.fill("#searchbar", typed)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.get_by_role("link", name=email).click()
    expect(page.locator("#user-email")).to_contain_text(email)


def change_role(page, role: str, level: int) -> None:
    """Choose a role and level on the user page and submit."""
    page.select_option("#role-form select[name=role]", role)
    page.fill("#role-form input[name=level]", str(level))
    page.click("#role-submit")
    expect(page.locator(".messagelist")).to_contain_text(f"Role changed to {role.upper()}{level}.")


def test_administrator_finds_a_user_grants_three_applications_and_changes_the_role(
    sign_in_browser, admin_user, directory
):
    page = sign_in_browser(admin_user)
    find_user(page, "Target", "target.person@example.com")
    for app in ["billing", "crm", "hr"]:
        page.get_by_label(re.compile(rf"^\s*{app} — ")).check()
    page.click("#access-submit")
    for app in ["billing", "crm", "hr"]:
        expect(page.locator(".messagelist")).to_contain_text(f"Granted {app}.")
    change_role(page, "b", 2)
    expect(page.locator("#user-role")).to_have_text("B2")

    assert sorted(cognito.user_groups(directory.sub)) == ["app-billing", "app-crm", "app-hr"]
    attributes = cognito.user_get(directory.sub).attributes
    assert [attributes[f"custom:role_{name}"] for name in "abc"] == ["0", "2", "0"]


def test_helpdesk_changes_a_role_and_finds_no_grant_or_delete_control(sign_in_browser, helpdesk_user, directory):
    page = sign_in_browser(helpdesk_user)
    find_user(page, "target.p", "target.person@example.com")
    expect(page.locator("#access-form")).to_have_count(0)
    expect(page.locator("#delete-link")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Disable"))).to_have_count(0)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    change_role(page, "c", 3)

    attributes = cognito.user_get(directory.sub).attributes
    assert [attributes[f"custom:role_{name}"] for name in "abc"] == ["0", "0", "3"]
    assert cognito.user_groups(directory.sub) == []
    page.goto("/admin/accounts/directoryentry/add/")
    expect(page.locator("body")).to_contain_text("not allowed", ignore_case=True)
