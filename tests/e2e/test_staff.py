"""Browser tests of staff management: grant and remove standing on the Staff page, checked in Cognito itself."""

import pytest
from playwright.sync_api import expect

from accounts import cognito
from accounts.rules import roles
from accounts.signin import standing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def groups(sub: str) -> list[str]:
    """Return the user's groups in Cognito, sorted."""
    return sorted(cognito.user_groups(sub))


def grant(page, email: str, label: str) -> None:
    """Fill the Staff page's grant form and submit it."""
    page.goto("/admin/staff/")
    page.fill("#staff-grant-form input[name=email]", email)
    page.select_option("#staff-grant-form select[name=standing]", label=label)
    page.click("#staff-grant-submit")


def row(page, email: str):
    """Return the Staff page's row of a member."""
    return page.locator("#staff-list tbody tr", has=page.locator(".staff-email", has_text=email))


def test_administrator_grants_help_desk_then_removes_it(sign_in_browser, admin_user, make_cognito_user):
    target = make_cognito_user("new.desk@example.com", name="New Desk")
    page = sign_in_browser(admin_user)
    page.goto("/")
    page.click("#home-staff")
    expect(row(page, "admin@example.com").locator(".staff-standing")).to_have_text("Administrator")
    grant(page, "new.desk@example.com", "Help desk")
    expect(page.locator(".messagelist")).to_contain_text(
        "new.desk@example.com now holds help desk standing", ignore_case=True
    )
    expect(row(page, "new.desk@example.com").locator(".staff-standing")).to_have_text("Help desk")
    assert groups(target.sub) == [roles.staff_groups()["helpdesk"]]

    row(page, "new.desk@example.com").locator("button.staff-remove-helpdesk").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "new.desk@example.com no longer holds help desk standing", ignore_case=True
    )
    expect(row(page, "new.desk@example.com")).to_have_count(0)
    assert groups(target.sub) == []


def test_granting_administrator_is_confirmed_and_cancelling_changes_nothing(
    sign_in_browser, admin_user, make_cognito_user
):
    target = make_cognito_user("next.admin@example.com", name="Next Admin")
    page = sign_in_browser(admin_user)
    grant(page, "next.admin@example.com", "Administrator")
    expect(page.locator("#confirm-what")).to_contain_text("Grant administrator standing to next.admin@example.com")
    page.click("#confirm-cancel")
    expect(page.locator("#staff-list")).to_be_visible()
    assert groups(target.sub) == []

    grant(page, "next.admin@example.com", "Administrator")
    page.click("#confirm-submit")
    expect(page.locator(".messagelist")).to_contain_text(
        "next.admin@example.com now holds administrator standing", ignore_case=True
    )
    assert groups(target.sub) == [roles.staff_groups()["admin"]]


def test_the_last_enabled_administrator_is_not_removed(sign_in_browser, admin_user, admin_identity, make_cognito_user):
    boss = make_cognito_user("boss@example.com", role=None, staff="admin", name="Bo Boss")
    page = sign_in_browser(admin_user)
    page.goto("/admin/staff/")
    # Meanwhile someone takes this administrator out of the group in the Cognito console (their session has
    # not been rechecked yet): the boss is now the last enabled administrator.
    cognito.user_remove_from_group(admin_identity.sub, roles.staff_groups()["admin"])
    row(page, "boss@example.com").locator("button.staff-remove-admin").click()
    expect(page.locator(".messagelist")).to_contain_text(
        standing.LAST_ADMINISTRATOR.format(email="boss@example.com"), ignore_case=True
    )
    assert groups(boss.sub) == [roles.staff_groups()["admin"]]
