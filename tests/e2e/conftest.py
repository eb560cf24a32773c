"""Browser harness: Playwright's sync API driving Debian's headless Chromium against the live server.

A missing browser fails the run (never a skip): `make test` installs Debian's chromium when it can.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls under a running loop.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# pytest-django's live server would listen on "localhost"; keep everything on 127.0.0.1.
os.environ.setdefault("DJANGO_LIVE_TEST_SERVER_ADDRESS", "127.0.0.1")

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Return the Chromium binary to drive: PORTAL_CHROMIUM, else Debian's."""
    return os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Launch headless Chromium once per session, with a fresh profile (Playwright's temporary user-data-dir)."""
    path = chromium_path()
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {path}. Run `make test` as root (it installs Debian's chromium) "
            "or set PORTAL_CHROMIUM to a Chromium binary."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server):
    """Open a page in a new browser context (own cookies), closed after the test; no CSP violation allowed."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    refused = []
    opened.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Permissions-Policy" in message.text
            else None
        ),
    )
    yield opened
    context.close()
    assert refused == [], "the browser refused what the portal's pages asked for"


@pytest.fixture
def sign_in_browser(page, live_server):
    """Sign a Django user into the page by cookie: sign_in_browser(user) -> page.

    Uses Django's force_login, so browser tests can reach signed-in pages without the sign-in flow.
    """

    def sign_in(user):
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
        return page

    return sign_in


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Return where the README's screenshots go: PORTAL_SCREENSHOTS (`make screenshots` sets docs/), else a temp dir."""
    return Path(os.environ.get("PORTAL_SCREENSHOTS") or tmp_path)
