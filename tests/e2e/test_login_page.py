"""The sign-in page in a real browser."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.e2e


def test_sign_in_page_renders_with_its_csrf_token(page):
    response = page.goto("/accounts/login/")
    assert response.status == 200
    assert page.get_by_role("heading", name="Sign in").is_visible()
    token = page.locator("form input[type=hidden][name=csrfmiddlewaretoken]")
    assert token.count() == 1
    assert len(token.get_attribute("value")) >= 32
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert settings.CSRF_COOKIE_NAME in cookies
    assert len(cookies[settings.CSRF_COOKIE_NAME]["value"]) >= 32


def test_sign_in_by_cookie_reaches_a_signed_in_page(page, sign_in_browser):
    user = get_user_model().objects.create_user(username="sub-123", email="ada@example.com", first_name="Ada")
    page.goto("/")
    assert "/accounts/login/" in page.url  # not signed in yet: sent to the sign-in page

    sign_in_browser(user)
    page.goto("/")
    assert "/accounts/login/" not in page.url
    assert page.get_by_role("heading", name="Welcome, Ada").is_visible()
