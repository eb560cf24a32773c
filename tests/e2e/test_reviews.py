"""Browser test of an access review: the administrator starts it, a reviewer revokes one user, the administrator
reads the report; the revocation checked in Cognito itself."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts import cognito
from accounts.models import ReviewCampaign
from accounts.rules import roles
from tests.bulk import run_worker
from tests.support.staff import index_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def applications(sub: str) -> set[str]:
    """Return the applications the user holds in Cognito now."""
    return {roles.application_for_group(group) for group in cognito.user_groups(sub)} - {None}


def worklist_row(page, email: str):
    """Return the worklist's row of a user."""
    return page.locator(f"#review-worklist tbody tr[data-email='{email}']")


@pytest.mark.parametrize("who", ["named help desk", "application owner"])
def test_a_reviewer_revokes_one_user_and_the_administrator_sees_it_in_the_report(
    who, request, sign_in_browser, browser, live_server, admin_user, make_cognito_user
):
    reviewing = request.getfixturevalue("helpdesk_user" if who == "named help desk" else "owner_user")
    carol = make_cognito_user("carol@example.com", apps=["billing"])
    dave = make_cognito_user("dave@example.com", apps=["billing"])
    for user in (carol, dave):
        index_user(user)

    page = sign_in_browser(admin_user)
    page.goto("/")
    page.click("#home-reviews")
    page.click("#review-start")
    page.fill("#review-start-form input[name=name]", "Billing Q1")
    page.check("#review-start-form input[name=applications][value=billing]")
    if who == "named help desk":
        page.check(f"#review-start-form input[name=reviewers][value='{reviewing.pk}']")
    else:  # billing's owners review billing
        page.check("#review-start-form input[name=owners_review]")
    page.fill("#review-start-form input[name=deadline]", "2099-01-01T09:00")
    page.select_option("#review-start-form select[name=unanswered]", "keep")
    page.click("#review-start-submit")
    expect(page.locator(".messagelist")).to_contain_text("2 items for 1 reviewer,")
    campaign = ReviewCampaign.objects.get()

    reviewer = browser.new_context(base_url=live_server.url)
    client = Client()
    client.force_login(reviewing)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    reviewer.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    desk = reviewer.new_page()
    desk.goto("/")
    desk.click("#home-reviews")
    desk.click(f"text=#{campaign.pk} Billing Q1")
    worklist_row(desk, "carol@example.com").locator("input.review-item").check()
    desk.fill("#review-reason", "left the company")
    desk.click("#review-revoke")
    expect(desk.locator(".messagelist")).to_contain_text("1 decision recorded (1 to revoke")
    worklist_row(desk, "dave@example.com").locator("input.review-item").check()
    desk.click("#review-keep")
    expect(worklist_row(desk, "dave@example.com").locator(".review-decision")).to_contain_text("Keep")
    reviewer.close()

    run_worker()  # the workers apply the revocation
    assert applications(carol.sub) == set() and applications(dave.sub) == {"billing"}

    page.goto(f"/admin/reviews/{campaign.pk}/")
    expect(page.locator("#review-progress")).to_contain_text(reviewing.email)
    page.click("#review-report")
    carol_row = page.locator("#review-report-items tr[data-email='carol@example.com']")
    expect(carol_row.locator(".report-decision")).to_have_text("Revoke")
    expect(carol_row.locator(".report-applied")).to_have_text("Revoked, signed out")
    expect(carol_row).to_contain_text("left the company")
    dave_row = page.locator("#review-report-items tr[data-email='dave@example.com']")
    expect(dave_row.locator(".report-decision")).to_have_text("Keep")
