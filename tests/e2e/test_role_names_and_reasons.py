"""Browser test: role names on the directory and the user page; a role change with its reason reaching the audit
list and its export; the change checked in Cognito itself."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts import cognito
from accounts.directory import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REASON = "CHG-2041 <promoted> by her manager"


@pytest.fixture
def target(settings, pool, make_cognito_user):
    """Named roles and levels, and a user holding A1 in Cognito and the directory."""
    settings.PORTAL_ROLE_NAMES = {"a": "Viewer", "b": "Editor", "c": "Manager"}
    settings.PORTAL_ROLE_LEVEL_NAMES = {1: "Basic", 2: "Standard", 3: "Full"}
    made = make_cognito_user("rita.reason@example.com", role=("a", 1), apps=["crm"], name="Rita Reason")
    services.directory_sync(actor="test")
    return made


def test_a_role_change_with_a_reason_reaches_cognito_the_audit_and_its_export(sign_in_browser, admin_user, target):
    page = sign_in_browser(admin_user)
    page.goto("/admin/accounts/directoryentry/?q=rita")
    row = page.locator("#result_list tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Viewer · Basic (A1)")
    page.get_by_role("link", name="rita.reason@example.com").click()
    expect(page.locator("#user-role")).to_have_text("Viewer · Basic (A1)")

    page.select_option("#role-form select[name=role]", label="Editor (B)")
    page.fill("#role-form input[name=level]", "3")
    page.fill("#role-form input[name=reason]", REASON)
    page.click("#role-submit")
    expect(page.locator(".messagelist")).to_contain_text("Role changed to Editor · Full (B3).")
    expect(page.locator("#user-role")).to_have_text("Editor · Full (B3)")
    expect(page.locator("#history")).to_contain_text(REASON)

    attributes = cognito.user_get(target.sub).attributes
    assert [attributes[f"custom:role_{name}"] for name in "abc"] == ["0", "3", "0"]

    page.goto("/admin/accounts/auditevent/?action=role_change")
    listed = page.locator("#result_list tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(REASON)
    expect(listed).to_contain_text("Viewer · Basic (A1) → Editor · Full (B3)")
    with page.expect_download() as download:
        page.click("#audit-export")
    exported = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [(row["action"], row["target"], row["reason"], row["role_change"]) for row in exported] == [
        ("role_change", "rita.reason@example.com", REASON, "Viewer · Basic (A1) → Editor · Full (B3)")
    ]
