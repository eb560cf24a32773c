"""portal/wsgi.py: /api/v1/ through the API's short middleware stack, every other path through the site's."""

import io
import json
import sys
from http import HTTPStatus

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from accounts.applications import services as app_services
from portal import wsgi
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db


def served(path: str, *, method: str = "GET", body: bytes = b"", host: str = "127.0.0.1", **headers) -> tuple:
    """Call the WSGI application as gunicorn does; return (status code, headers, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(response_headers)

    # As Django's test client does: the request must not close the test's database connection when it ends.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        content = b"".join(wsgi.application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], content


@pytest.fixture
def billing_key(admin_user, apps_pool) -> str:
    """A plain API key of billing."""
    return app_services.api_key_issue(actor=admin_user, name="billing").plain


def test_the_api_runs_without_the_session_and_page_middleware(settings):
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in settings.PORTAL_API_MIDDLEWARE
    assert "csp.middleware.CSPMiddleware" not in settings.PORTAL_API_MIDDLEWARE
    assert wsgi.api._middleware_chain is not wsgi.site._middleware_chain


def test_an_access_check_through_the_api_stack_keeps_the_security_headers_and_sets_no_cookie(billing_key, bella):
    body = json.dumps({"token": bella["IdToken"], "application": "billing"}).encode()
    status, headers, content = served(
        "/api/v1/access-check", method="POST", body=body, authorization=f"Api-Key {billing_key}"
    )
    assert status == HTTPStatus.OK and json.loads(content)["allowed"] is True
    assert headers["X-Content-Type-Options"] == "nosniff" and "Permissions-Policy" in headers
    assert headers["Cache-Control"].startswith("max-age=0") and "Set-Cookie" not in headers
    assert "Content-Security-Policy" not in headers  # a page header: JSON is never rendered


def test_the_rest_of_the_site_keeps_every_middleware():
    status, headers, _ = served("/accounts/login/")
    assert status == HTTPStatus.OK and "Content-Security-Policy" in headers and "X-Frame-Options" in headers


def test_a_foreign_host_is_refused_on_the_api_too(billing_key):
    status, _, _ = served("/api/v1/revocations", host="evil.example.com", authorization=f"Api-Key {billing_key}")
    assert status == HTTPStatus.BAD_REQUEST


def test_an_unknown_api_path_gets_the_404_page():
    status, _, content = served("/api/v1/nothing-here")
    assert status == HTTPStatus.NOT_FOUND and b"<html" in content.lower()


def test_a_post_to_the_api_needs_no_csrf_token_and_a_page_post_still_does(billing_key):
    assert served("/api/v1/access-check", method="POST", body=b"{}", authorization=f"Api-Key {billing_key}")[0] == (
        HTTPStatus.BAD_REQUEST
    )
    assert served("/accounts/login/", method="POST", body=b"")[0] == HTTPStatus.FORBIDDEN


@pytest.fixture
def bella(make_cognito_user, app_sign_in):
    """Tokens of a B2 user of billing, indexed."""
    index_user(make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"]))
    return app_sign_in("bella@example.com")
