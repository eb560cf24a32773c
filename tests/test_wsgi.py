"""portal/wsgi.py: /api/v1/ through the API's short middleware stack, every other path through the site's."""

import contextlib
import json
from http import HTTPStatus

import pytest
from django.test import override_settings

from accounts.applications import services as app_services
from portal import wsgi
from tests.support.staff import index_user
from tests.support.wsgi import Served, served

pytestmark = pytest.mark.django_db


@pytest.fixture
def billing_key(admin_user, apps_pool) -> str:
    """A plain API key of billing."""
    return app_services.api_key_issue(actor=admin_user, name="billing").plain


def test_the_api_runs_without_the_session_and_page_middleware(settings):
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in settings.PORTAL_API_MIDDLEWARE
    assert "csp.middleware.CSPMiddleware" not in settings.PORTAL_API_MIDDLEWARE
    assert wsgi.api._middleware_chain is not wsgi.site._middleware_chain


def _check(billing_key: str, token: str, **request) -> Served:
    """POST an access check of billing through the WSGI application."""
    body = json.dumps({"token": token, "application": "billing"}).encode()
    return served("/api/v1/access-check", method="POST", body=body, authorization=f"Api-Key {billing_key}", **request)


def test_an_access_check_keeps_the_security_headers_and_sets_no_cookie(billing_key, bella):
    response = _check(billing_key, bella["IdToken"])
    assert response.status_code == HTTPStatus.OK and response.json()["allowed"] is True
    assert response["X-Content-Type-Options"] == "nosniff" and "Permissions-Policy" in response.headers
    assert response["Cache-Control"].startswith("max-age=0") and "Set-Cookie" not in response.headers
    assert "Content-Security-Policy" not in response.headers  # a page header: JSON is never rendered


def _stacked(billing_key: str, token: str, monkeypatch, **request) -> Served:
    """POST the same access check through the API stack, as every other API path goes."""
    with monkeypatch.context() as patch:
        patch.setattr(wsgi, "ACCESS_CHECK", "/not-this-path")
        return _check(billing_key, token, **request)


def _no_fallback(environ, start_response):
    """Stand in for the API stack where the endpoint must answer alone."""
    raise AssertionError("the endpoint handed a request it should answer to the API stack")


def test_the_access_check_endpoint_sends_what_the_api_stack_sends(billing_key, bella, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(wsgi.access_check, "fallback", _no_fallback)
        direct = _check(billing_key, bella["IdToken"])
        refused = _check(billing_key, "not-a-token")
    stacked, stacked_refused = (_stacked(billing_key, token, monkeypatch) for token in (bella["IdToken"], "x"))
    for one, other in ((direct, stacked), (refused, stacked_refused)):
        assert (one.status_code, one.json()) == (other.status_code, other.json())
        moment = {"Expires"}  # the time of each response
        assert {k: v for k, v in one.headers.items() if k not in moment} == {
            k: v for k, v in other.headers.items() if k not in moment
        }


@contextlib.contextmanager
def api_stack_settings(**changed):
    """Change settings and rebuild the API stack's middleware with them (they read settings when made)."""
    try:
        with override_settings(**changed):
            wsgi.api.load_middleware()
            yield
    finally:
        wsgi.api.load_middleware()


def test_over_https_the_endpoint_adds_hsts_as_the_stack_does(billing_key, bella, monkeypatch):
    https = {"x_forwarded_proto": "https"}
    with api_stack_settings(
        SECURE_HSTS_SECONDS=31536000,
        SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    ):
        plain, direct = _check(billing_key, bella["IdToken"]), _check(billing_key, bella["IdToken"], **https)
        stacked = _stacked(billing_key, bella["IdToken"], monkeypatch, **https)
    assert "Strict-Transport-Security" not in plain.headers
    assert (
        direct["Strict-Transport-Security"]
        == stacked["Strict-Transport-Security"]
        == ("max-age=31536000; includeSubDomains")
    )


@pytest.mark.parametrize(
    ("request_change", "status"),
    [
        ({"method": "GET"}, HTTPStatus.METHOD_NOT_ALLOWED),
        ({"host": "evil.example.com"}, HTTPStatus.BAD_REQUEST),
    ],
)
def test_what_the_endpoint_does_not_answer_the_api_stack_does(billing_key, bella, request_change, status):
    body = json.dumps({"token": bella["IdToken"], "application": "billing"}).encode()
    response = served("/api/v1/access-check", body=body, authorization=f"Api-Key {billing_key}", **request_change)
    assert response.status_code == status


def test_plain_http_where_https_is_required_is_redirected_by_the_stack(billing_key, bella):
    with api_stack_settings(SECURE_SSL_REDIRECT=True):
        response = _check(billing_key, bella["IdToken"])
    assert response.status_code == HTTPStatus.MOVED_PERMANENTLY
    assert response["Location"].startswith("https://")


def test_the_database_gone_is_a_json_503_without_a_trace(billing_key, bella, monkeypatch, caplog):
    from django.db.utils import OperationalError

    from accounts.applications import access_check

    def gone(**_):
        raise OperationalError("simulated: the database went away")

    monkeypatch.setattr(access_check, "_facts", gone)
    response = _check(billing_key, bella["IdToken"])
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE and response["Retry-After"] == "30"
    assert response.json() == {"error": "The access check cannot read its index right now; retry shortly."}
    assert b"Traceback" not in response.content and "simulated" not in caplog.text


def test_an_unexpected_fault_is_a_json_500_and_the_trace_goes_to_the_log(billing_key, bella, monkeypatch, caplog):
    from accounts.applications import access_check

    def broken(**_):
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(access_check, "_facts", broken)
    response = _check(billing_key, bella["IdToken"])
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {"error": "The access check failed; retry shortly."}
    assert b"simulated" not in response.content and "simulated fault" in caplog.text


def test_the_rest_of_the_site_keeps_every_middleware():
    response = served("/accounts/login/")
    assert response.status_code == HTTPStatus.OK
    assert "Content-Security-Policy" in response.headers and "X-Frame-Options" in response.headers


def test_a_foreign_host_is_refused_on_the_api_too(billing_key):
    response = served("/api/v1/revocations", host="evil.example.com", authorization=f"Api-Key {billing_key}")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_an_unknown_api_path_gets_the_404_page():
    response = served("/api/v1/nothing-here")
    assert response.status_code == HTTPStatus.NOT_FOUND and b"<html" in response.content.lower()


def test_a_post_to_the_api_needs_no_csrf_token_and_a_page_post_still_does(billing_key):
    check = served("/api/v1/access-check", method="POST", body=b"{}", authorization=f"Api-Key {billing_key}")
    assert check.status_code == HTTPStatus.BAD_REQUEST
    assert served("/accounts/login/", method="POST", body=b"").status_code == HTTPStatus.FORBIDDEN


@pytest.fixture
def bella(make_cognito_user, app_sign_in):
    """Tokens of a B2 user of billing, indexed."""
    index_user(make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"]))
    return app_sign_in("bella@example.com")
