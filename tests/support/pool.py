"""Fixtures for the portal's pool in moto, its users and staff identities.

Bootstrapping a pool costs about twenty Cognito calls and moto's RSA key import, and nearly every test
needs one. So the first test bootstraps for real and keeps a pristine copy of moto's pool object as a
template; each later test gets a deep copy of it, under new pool and client IDs and a new client secret,
installed in its own fresh moto. A copy is taken only into an empty moto and for the same configuration
(every COGNITO_/PORTAL_ setting and MOTO_ variable), otherwise the test bootstraps for real.
"""

import copy
import dataclasses
import os

import pytest
from django.conf import settings
from moto.cognitoidp.models import CognitoIdpUserPool, cognitoidp_backends
from moto.cognitoidp.utils import ID_HASH_STRATEGY
from moto.moto_api._internal import mock_random
from moto.settings import get_cognito_idp_user_pool_client_id_strategy, get_cognito_idp_user_pool_id_strategy

from accounts import cognito
from accounts.pool.bootstrap import Report, bootstrap
from accounts.rules import roles

STAFF_PASSWORD = "Staff-Password-1!"
USER_PASSWORD = "User-Password-1!"


@dataclasses.dataclass(frozen=True)
class Template:
    """A bootstrapped pool as moto held it right after bootstrap, and bootstrap's report."""

    report: Report
    pool: CognitoIdpUserPool
    account_id: str


_templates: dict[tuple, Template] = {}


def configuration() -> tuple:
    """Return what a bootstrap's outcome depends on: the portal's Cognito settings and moto's options."""
    names = sorted(name for name in dir(settings) if name.startswith(("COGNITO_", "PORTAL_")))
    moto_options = sorted((name, value) for name, value in os.environ.items() if name.startswith("MOTO_"))
    return tuple((name, repr(getattr(settings, name))) for name in names) + tuple(moto_options)


def moto_is_empty() -> bool:
    """Tell whether moto's Cognito holds no user pool in any account or region."""
    return not any(backend.user_pools for _, _, backend in cognitoidp_backends.iter_backends())


def moto_pool(pool_id: str) -> tuple[str, CognitoIdpUserPool]:
    """Return (account ID, moto's pool object) for a pool ID."""
    for account_id, _, backend in cognitoidp_backends.iter_backends():
        if pool_id in backend.user_pools:
            return account_id, backend.user_pools[pool_id]
    raise LookupError(pool_id)


def pristine(pool: CognitoIdpUserPool) -> CognitoIdpUserPool:
    """Return a deep copy of moto's pool that shares only its read-only signing key."""
    return copy.deepcopy(pool, {id(pool.json_web_key): pool.json_web_key})


def new_id(old: str, strategy: str | None, limit: int, prefix: str = "") -> str:
    """Return the ID moto would give a new object: the same under its HASH strategy, else a fresh one."""
    return old if strategy == ID_HASH_STRATEGY else (prefix + mock_random.uuid4().hex)[:limit]


def renamed(pool: CognitoIdpUserPool) -> tuple[CognitoIdpUserPool, dict[str, str]]:
    """Give a copied pool new pool and client IDs and new client secrets; return it and old -> new IDs."""
    old = pool.id
    pool.id = new_id(old, get_cognito_idp_user_pool_id_strategy(), pool.MAX_ID_LENGTH, f"{pool.region}_")
    pool.arn = pool.arn.replace(old, pool.id)
    ids = {old: pool.id}
    clients = {}
    for client in pool.clients.values():
        client.user_pool_id = pool.id
        client.extended_config.update({key: pool.id for key, value in client.extended_config.items() if value == old})
        strategy = get_cognito_idp_user_pool_client_id_strategy()
        ids[client.id] = client.id = new_id(client.id, strategy, client.MAX_ID_LENGTH)
        client.secret = str(mock_random.uuid4())
        clients[client.id] = client
    pool.clients.clear()
    pool.clients.update(clients)
    for item in [*pool.groups.values(), *pool.users.values()]:
        item.user_pool_id = pool.id
    return pool, ids


def install(template: Template) -> Report:
    """Put a renamed copy of the template's pool into moto; return the report bootstrap would have made."""
    pool, ids = renamed(pristine(template.pool))
    cognitoidp_backends[template.account_id][pool.region].user_pools[pool.id] = pool
    report = copy.deepcopy(template.report)
    report.pool_id, report.client_id = ids[report.pool_id], ids[report.client_id]
    report.client_secret = pool.clients[report.client_id].secret
    report.applications_client_id = ids[report.applications_client_id]
    report.application_clients = {app: ids[client] for app, client in report.application_clients.items()}
    return report


def template_of(report: Report) -> Template:
    """Return a template of the pool a bootstrap just made."""
    account_id, pool = moto_pool(report.pool_id)
    return Template(copy.deepcopy(report), pristine(pool), account_id)


def bootstrap_or_copy() -> Report:
    """Bootstrap the configured pool into moto, from the template when one fits (never for a moto server)."""
    key, empty = configuration(), moto_is_empty() and not settings.COGNITO_ENDPOINT_URL
    if empty and key in _templates:
        return install(_templates[key])
    report = bootstrap()
    if empty:
        _templates[key] = template_of(report)
    return report


@pytest.fixture
def pool(aws, settings, request):
    """Bootstrap a portal pool in moto and point the settings at it; return the bootstrap report.

    With the database, the registry records each application's own app client, as cognito_bootstrap does.
    """
    settings.PORTAL_ADMIN_EMAIL = ""
    report = bootstrap_or_copy()
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
        neutral = dict.fromkeys(roles.role_attributes(), "0")
        attributes.update(roles.attributes_for(roles.Role(*role)) if role else neutral)
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
