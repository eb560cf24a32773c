"""No token, session or password in AuthResult's repr or in the error report Django writes for a 500."""

import logging
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from accounts import cognito
from accounts.signin import backend as backends
from accounts.signin import flows
from tests.conftest import STAFF_PASSWORD
from tests.faults import cognito_fault


def test_auth_result_repr_shows_no_token_or_session():
    result = cognito.AuthResult(
        id_token="id-secret",
        access_token="access-secret",
        refresh_token="refresh-secret",
        session="session-secret",
        challenge="SOFTWARE_TOKEN_MFA",
        expires_in=900,
    )
    text = repr(result) + str(result)
    assert "SOFTWARE_TOKEN_MFA" in text
    assert not any(secret in text for secret in ("id-secret", "access-secret", "refresh-secret", "session-secret"))


class _Reports(logging.Handler):
    """Keep the error reports that Django's AdminEmailHandler would send, as text."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.reports: list[str] = []

    def emit(self, record):
        """Build the report the way AdminEmailHandler does (DEBUG off, so the safe filter applies)."""
        request = getattr(record, "request", None)
        reporter = ExceptionReporter(request, *record.exc_info, is_email=True)
        self.reports.append(reporter.get_traceback_text() + reporter.get_traceback_html())


@pytest.fixture
def error_reports():
    """Collect django.request's error reports while the test runs."""
    handler = _Reports()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler.reports
    logger.removeHandler(handler)


def _secrets_of_a_sign_in(monkeypatch) -> list[str]:
    """Make the step after Cognito's answer fail; return the tokens that answer carried (filled in when it comes)."""
    seen: list[str] = []
    real = cognito.auth_password

    def auth_password(username, password):
        result = real(username, password)
        seen.extend([result.id_token, result.access_token, result.refresh_token])
        return result

    def broken(*args, **kwargs):
        raise RuntimeError("a bug after Cognito answered")

    monkeypatch.setattr(cognito, "auth_password", auth_password)
    monkeypatch.setattr(backends, "shadow_user", broken)
    return seen


@pytest.mark.django_db
def test_a_500_during_sign_in_reports_no_password_or_token(client, admin_identity, monkeypatch, error_reports):
    seen = _secrets_of_a_sign_in(monkeypatch)
    client.raise_request_exception = False
    response = client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert len(error_reports) == 1 and "a bug after Cognito answered" in error_reports[0]
    assert all(seen) and len(seen) == 3
    for secret in [STAFF_PASSWORD, *seen]:
        assert secret not in error_reports[0]


@pytest.mark.django_db
def test_a_500_at_the_mfa_step_reports_no_session_or_token(client, admin_identity, totp, monkeypatch, error_reports):
    client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    page = client.get(reverse("accounts:account_mfa"))
    client.post(reverse("accounts:account_mfa"), {"code": totp(page.context["secret"])})
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    challenge_session = client.session[flows.common.PENDING]["session"]
    monkeypatch.setattr(backends, "shadow_user", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("bug")))
    client.raise_request_exception = False
    response = client.post(reverse("accounts:login_mfa"), {"code": totp(page.context["secret"])})
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and len(error_reports) == 1
    assert challenge_session and challenge_session not in error_reports[0]
    assert "eyJ" not in error_reports[0]  # no JWT (ID, access or refresh token)


@pytest.mark.django_db
def test_an_unexpected_cognito_error_at_sign_in_reports_no_password_simulated(client, admin_identity, error_reports):
    client.raise_request_exception = False
    with cognito_fault("SomethingNewException", operations={"AdminInitiateAuth"}):
        response = client.post(reverse("accounts:login"), {"email": "admin@example.com", "password": STAFF_PASSWORD})
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR and len(error_reports) == 1
    assert "SomethingNewException" in error_reports[0] and STAFF_PASSWORD not in error_reports[0]
