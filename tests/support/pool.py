"""Fixtures for the portal's pool in moto, its users and staff identities."""

import pytest

from accounts import cognito, roles
from accounts.bootstrap import bootstrap

STAFF_PASSWORD = "Staff-Password-1!"
USER_PASSWORD = "User-Password-1!"


@pytest.fixture
def pool(aws, settings):
    """Bootstrap a portal pool in moto and point the settings at it; return the bootstrap report."""
    settings.PORTAL_ADMIN_EMAIL = ""
    report = bootstrap()
    settings.COGNITO_USER_POOL_ID = report.pool_id
    settings.COGNITO_APP_CLIENT_ID = report.client_id
    settings.COGNITO_APP_CLIENT_SECRET = report.client_secret
    return report


@pytest.fixture
def make_cognito_user(pool):
    """Create a confirmed pool user: make_cognito_user(email, role=('a', 1), apps=[...], staff=None)."""

    def make(email, *, role=("a", 1), apps=(), staff=None, password=USER_PASSWORD, name="") -> cognito.User:
        attributes = {"name": name or email.split("@")[0].title()}
        attributes.update(roles.attributes_for(roles.Role(*role)) if role else {a: "0" for a in roles.role_attributes()})
        user = cognito.user_create(email, attributes, temporary_password=password, send_invitation=False)
        cognito.user_set_password(email, password, permanent=True)
        for app in apps:
            cognito.user_add_to_group(email, roles.group_for_application(app))
        if staff:
            cognito.user_add_to_group(email, roles.staff_groups()[staff])
        return user

    return make


@pytest.fixture
def admin_identity(make_cognito_user):
    """A Cognito administrator with a known password."""
    return make_cognito_user("admin@example.com", role=None, staff="admin", password=STAFF_PASSWORD, name="Ada Admin")


@pytest.fixture
def helpdesk_identity(make_cognito_user):
    """A Cognito help-desk member with a known password."""
    return make_cognito_user("desk@example.com", role=None, staff="helpdesk", password=STAFF_PASSWORD, name="Hal Desk")


@pytest.fixture
def totp(monkeypatch):
    """Make moto check TOTP codes for real; return a function giving the current code for a secret."""
    import time

    import pyotp

    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")

    class EmulatorTOTP(pyotp.TOTP):
        min_secret_length_bits = 0  # moto's fixed secret is shorter than pyotp allows

    def code(secret: str) -> str:
        if 30 - time.time() % 30 < 2:  # moto accepts only the current step: avoid its last instant
            time.sleep(2.1)
        return EmulatorTOTP(secret).now()

    return code
