"""Browser tests of activity and of a session ended elsewhere: what a person sees, checked in Cognito too."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accounts import cognito
from accounts.applications import services as app_services
from accounts.models import ApplicationUse
from accounts.signin.flows import session
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in_by_form(page, email: str, password: str) -> None:
    """Sign in through the portal's own form and land on home."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_the_other_browser_after_sign_out_everywhere_lands_on_sign_in_with_the_reason(
    page, browser, live_server, helpdesk_identity
):
    other = browser.new_context(base_url=live_server.url).new_page()
    try:
        sign_in_by_form(page, "desk@example.com", STAFF_PASSWORD)
        sign_in_by_form(other, "desk@example.com", STAFF_PASSWORD)
        earlier = cognito.auth_password("desk@example.com", STAFF_PASSWORD)
        page.goto("/accounts/account/")
        page.get_by_role("button", name="Sign out everywhere").click()
        other.goto("/")
        other.wait_for_url(re.compile(r"/accounts/login/"))
        expect(other.get_by_role("status")).to_contain_text(
            f"Your session ended: {session.ENDED_HERE}. Please sign in again."
        )
        with pytest.raises(cognito.NotAuthorized):  # Cognito revoked the refresh tokens too
            cognito.auth_refresh(helpdesk_identity.sub, earlier.refresh_token)
    finally:
        other.context.close()


def test_the_user_page_shows_the_last_use_and_the_directory_filters_on_it(
    sign_in_browser, admin_user, make_cognito_user, app_sign_in
):
    bella = make_cognito_user("bella@example.com", role=("b", 2), apps=["billing", "crm"], name="Bella Used")
    index_user(bella), index_user(make_cognito_user("ned@example.com", role=("a", 1), apps=["crm"], name="Ned"))
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain
    body = json.dumps({"token": app_sign_in("bella@example.com")["IdToken"], "application": "billing"})
    answer = Client().post(
        reverse("api_access_check"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
    )
    assert answer.json()["allowed"] and ApplicationUse.objects.filter(sub=bella.sub, application="billing").exists()

    page = sign_in_browser(admin_user)
    page.goto(reverse("admin:accounts_directoryentry_change", args=[bella.sub]))
    expect(page.locator("#user-last-use")).to_contain_text(f"billing: {timezone.now():%Y-%m-%d}")
    expect(page.locator("#user-last-use")).to_contain_text("crm: never")

    page.goto(reverse("admin:accounts_directoryentry_changelist"))
    page.get_by_role("link", name="7 days", exact=True).click()
    rows = page.locator("#result_list tbody")
    expect(rows).to_contain_text("ned@example.com")
    expect(rows).not_to_contain_text("bella@example.com")
