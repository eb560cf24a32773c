"""Browser tests of the applications: the registry, and a role change reaching the example application."""

import json
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from accounts import cognito
from accounts.applications import services as app_services
from accounts.directory import services
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARN = "arn:aws:iam::123456789012:role/apps/payroll-api"


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        """Keep the test output clean."""


class _ThreadedServer(WSGIServer):
    daemon_threads = True


@pytest.fixture
def example_url(example):
    """Serve the example application on 127.0.0.1 in a thread (moto, in this process, answers its Cognito calls)."""
    server = make_server("127.0.0.1", 0, example, server_class=_ThreadedServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def example_sign_in(page, base: str, email: str) -> None:
    """Sign in to the example application in the browser."""
    page.goto(f"{base}/signin")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", USER_PASSWORD)
    page.click("#signin")


def test_role_change_in_the_portal_reaches_the_api_at_once_and_the_app_at_next_sign_in(
    browser, live_server, sign_in_browser, admin_user, make_cognito_user, example, example_url
):
    user = make_cognito_user("pia@example.com", role=("a", 1), apps=["billing"], name="Pia Person")
    services.directory_sync(actor="test")
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain

    app_page = browser.new_context().new_page()
    example_sign_in(app_page, example_url, "pia@example.com")
    expect(app_page.locator("#role")).to_have_text("A1")
    expect(app_page.locator('[data-feature="Approve payments"]')).to_have_text("Approve payments: locked")

    admin_page = sign_in_browser(admin_user)
    admin_page.goto(f"/admin/accounts/directoryentry/{user.sub}/change/")
    admin_page.select_option("#role-form select[name=role]", "a")
    admin_page.fill("#role-form input[name=level]", "3")
    admin_page.click("#role-submit")
    expect(admin_page.locator(".messagelist")).to_contain_text("Role changed to A3.")
    attributes = cognito.user_get(user.sub).attributes
    assert [attributes[f"custom:role_{name}"] for name in "abc"] == ["3", "0", "0"]

    # The access-check API refuses at once the token the application got before the change (signed out).
    session = next(data for data in example.sessions._data.values() if "id_token" in data)
    answer = Client().post(
        reverse("api_access_check"),
        json.dumps({"token": session["id_token"], "application": "billing"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    assert answer.status_code == 401

    # The application refreshes: the old refresh token is refused, the session ends; signing in shows A3.
    app_page.click("#refresh")
    expect(app_page.locator(".notice")).to_contain_text("Your session ended")
    example_sign_in(app_page, example_url, "pia@example.com")
    expect(app_page.locator("#role")).to_have_text("A3")
    expect(app_page.locator('[data-feature="Approve payments"]')).to_have_text("Approve payments: unlocked")
    app_page.context.close()


def test_administrator_creates_an_application_and_issues_a_key_shown_once(sign_in_browser, admin_user, pool):
    page = sign_in_browser(admin_user)
    page.goto("/admin/accounts/application/")
    page.get_by_role("link", name="Add application").click()
    page.fill("#id_name", "payroll")
    page.fill("#id_description", "Salaries")
    page.fill("#id_role_arn", ARN)
    page.fill("#id_precedence", "4")
    page.click("#application-submit")
    expect(page.locator(".messagelist")).to_contain_text("Application payroll created: Cognito group app-payroll.")
    group = cognito.group_get("app-payroll")
    assert (group.description, group.role_arn, group.precedence) == ("Salaries", ARN, 4)

    page.click("#key-issue")
    plain = page.locator("#api-key").inner_text()
    assert plain.startswith("cak_")
    page.go_back()
    page.reload()
    expect(page.locator("#api-keys")).not_to_contain_text(plain)
    expect(page.locator("#api-keys")).to_contain_text(plain[:16])
