"""Fixtures: an in-process moto pool bootstrapped like production, users, and signed-in clients."""

import pytest
from moto import mock_aws
from moto.cognitoidp.models import CognitoIdpBackend

from accounts import cognito, roles
from accounts.bootstrap import bootstrap
from scripts.embedded_cognito import cognito_rules

STAFF_PASSWORD = "Staff-Password-1!"
USER_PASSWORD = "User-Password-1!"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """Give every test dummy credentials and a fresh client, so none can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cognito.reset_client()
    yield
    cognito.reset_client()


@pytest.fixture
def aws(monkeypatch):
    """Run the test inside moto's in-process AWS, with the embedded Cognito's rules where moto is laxer."""
    for name, rule in cognito_rules().items():
        monkeypatch.setattr(CognitoIdpBackend, name, rule)
    with mock_aws():
        yield


@pytest.fixture
def pool(aws, settings, request):
    """Bootstrap a portal pool in moto and point the settings at it; return the bootstrap report.

    With the database, the registry records each application's own app client, as cognito_bootstrap does.
    """
    settings.PORTAL_ADMIN_EMAIL = ""
    report = bootstrap()
    if request.node.get_closest_marker("django_db"):
        from accounts.models import Application

        for app, client_id in report.application_clients.items():
            Application.objects.filter(name=app).update(client_id=client_id)
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


@pytest.fixture(autouse=True)
def _registry_seeded(request):
    """Seed the application registry again in transactional tests.

    Migration 0003 fills the registry from PORTAL_APPLICATIONS, but a transactional test (the browser
    tests) empties every table when it ends, so the next one would find no applications.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return
    request.getfixturevalue("transactional_db")
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import Application

    for name, description in settings.PORTAL_APPLICATIONS.items():
        Application.objects.get_or_create(name=name, defaults={"description": description, "synced_at": timezone.now()})
