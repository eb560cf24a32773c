"""Staff sign-in in a real browser, checked in Cognito."""

import re

import pytest

from accounts import cognito

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_new_staff_member_sets_a_password_and_lands_on_home(page, pool, live_server):
    cognito.user_create(
        "newcomer@example.com", {"name": "Nia Newcomer"}, temporary_password="Temp-Password-1!", send_invitation=False
    )
    cognito.user_add_to_group("newcomer@example.com", "portal-helpdesk")

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("Newcomer@Example.com")
    page.get_by_label("Password").fill("Temp-Password-1!")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/accounts/login/new-password/")
    assert page.get_by_text("at least 12 characters").is_visible()
    page.get_by_label(re.compile(r"^New password:?$")).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Set password and sign in").click()
    assert page.get_by_text("The password needs").is_visible()

    page.get_by_label(re.compile(r"^New password:?$")).fill("Chosen-Password-7!")
    page.get_by_label("New password again").fill("Chosen-Password-7!")
    page.get_by_role("button", name="Set password and sign in").click()

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Welcome, Nia Newcomer").is_visible()
    assert cognito.user_get("newcomer@example.com").status == "CONFIRMED"
    assert cognito.auth_password("newcomer@example.com", "Chosen-Password-7!").signed_in
