"""Browser test of access that ends: grant until a date, see it on the pages, move the clock, see it ended in
Cognito (the sweep run with time-machine in the test process, as a worker would)."""

from datetime import datetime

import pytest
import time_machine
from playwright.sync_api import expect

from accounts import cognito
from accounts.directory import expiry, services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_grant_until_a_date_see_it_then_it_ends_in_cognito(sign_in_browser, admin_user, pool, make_cognito_user):
    target = make_cognito_user("contractor@example.com", role=("b", 1), apps=["crm"], name="Con Tractor")
    services.directory_sync(actor="test")
    page = sign_in_browser(admin_user)
    page.goto(f"/admin/accounts/directoryentry/{target.sub}/change/")
    page.select_option("#until-form select[name=application]", "billing")
    page.fill("#until-form input[name=expires]", "2030-01-31 18:00")
    page.click("#until-submit")
    expect(page.locator(".messagelist")).to_contain_text("Granted billing until 2030-01-31 18:00 UTC.")
    expect(page.locator("#end-grant-billing")).to_contain_text("billing until 2030-01-31 18:00 UTC")
    expect(page.locator("#user-ends")).to_contain_text("Times are stored in UTC and shown in UTC.")
    expect(page.locator("#history")).to_contain_text("granted billing until 2030-01-31 18:00 UTC")
    page.goto("/admin/accounts/directoryentry/?expires=soon")
    expect(page.locator("#result_list")).to_have_count(0)  # more than 7 days away
    assert sorted(cognito.user_groups(target.sub)) == ["app-billing", "app-crm"]

    with time_machine.travel(datetime.fromisoformat("2030-01-31T18:00:30+00:00"), tick=False):
        assert expiry.sweep().counts["ended"] == 1

    assert cognito.user_groups(target.sub) == ["app-crm"]
    page.goto(f"/admin/accounts/directoryentry/{target.sub}/change/")
    expect(page.locator("#user-applications")).to_have_text("crm")
    expect(page.locator("#history")).to_contain_text("ended (expired) billing, granted by admin@example.com")
    expect(page.locator("#user-ends")).to_have_count(0)
