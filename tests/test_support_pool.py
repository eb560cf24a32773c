"""The `pool` fixture's template: a copied pool is the pool bootstrap makes, under IDs of its own."""

import pytest

from accounts import cognito
from accounts.pool.bootstrap import bootstrap
from tests.conftest import USER_PASSWORD
from tests.support import pool as support


def contents(report) -> dict:
    """Return what Cognito says about a bootstrapped pool, without its IDs, secret and dates."""
    info = cognito.pool_describe(report.pool_id)
    with cognito.target(report.pool_id, report.client_id, report.client_secret):
        groups = sorted((group.name, group.description, group.precedence) for group in cognito.groups_list())
        users = sorted(user.email for user in cognito.users_list())
    clients = {}
    for client_id, name in cognito.clients_list(report.pool_id):
        client = cognito.client_describe(report.pool_id, client_id)
        clients[name] = {
            key: value
            for key, value in client.raw.items()
            if key not in {"ClientId", "ClientSecret", "UserPoolId", "CreationDate", "LastModifiedDate"}
        }
    return {
        "name": info.name,
        "attributes": info.attributes,
        "username_attributes": info.username_attributes,
        "mfa": info.mfa,
        "clients": clients,
        "groups": groups,
        "users": users,
    }


def strings_in(value, seen=None):
    """Yield every string reachable from a moto object (attributes, dicts, lists, sets)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key, seen)
            yield from strings_in(item, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings_in(item, seen)
    elif hasattr(value, "__dict__") and type(value).__module__.startswith("moto."):
        yield from strings_in(vars(value), seen)


@pytest.fixture
def template(aws, settings):
    """A template made from a real bootstrap in this test's moto, and that bootstrap's report."""
    settings.PORTAL_ADMIN_EMAIL = ""
    report = bootstrap()
    return support.template_of(report), report


def test_a_copy_holds_what_bootstrap_made_under_new_ids_and_secret(template):
    made, report = template
    copied = support.install(made)
    assert contents(copied) == contents(report)
    assert copied.lines == report.lines and copied.lines is not report.lines
    assert copied.pool_id != report.pool_id and copied.pool_id.startswith("us-east-1_")
    clients = {copied.client_id, copied.applications_client_id}
    assert clients.isdisjoint({report.client_id, report.applications_client_id})
    assert copied.client_secret != report.client_secret
    assert {pid for pid, _ in cognito.pools_list()} == {report.pool_id, copied.pool_id}
    described = [cognito.client_describe(copied.pool_id, cid).raw for cid, _ in cognito.clients_list(copied.pool_id)]
    assert {client["UserPoolId"] for client in described} == {copied.pool_id}
    _, moto_copy = support.moto_pool(copied.pool_id)
    old = {report.pool_id, report.client_id, report.applications_client_id, report.client_secret}
    assert not [text for text in strings_in(moto_copy) if any(value in text for value in old)]


def test_a_copy_signs_users_in_with_its_own_client_and_secret(template, settings):
    copied = support.install(template[0])
    settings.COGNITO_USER_POOL_ID, settings.COGNITO_APP_CLIENT_ID = copied.pool_id, copied.client_id
    settings.COGNITO_APP_CLIENT_SECRET = copied.client_secret
    cognito.user_create("copy@example.com", {"name": "Copy"}, temporary_password=USER_PASSWORD, send_invitation=False)
    cognito.user_set_password("copy@example.com", USER_PASSWORD, permanent=True)
    assert cognito.auth_password("copy@example.com", USER_PASSWORD).signed_in


def test_changes_to_a_copy_leave_the_template_as_bootstrap_left_it(template):
    made, report = template
    first = support.install(made)
    with cognito.target(first.pool_id):
        cognito.group_create("app-extra", "Extra")
        cognito.user_create("changed@example.com", {"name": "Changed"}, send_invitation=False)
    second = support.install(made)
    assert contents(second) == contents(report) != contents(first)


def test_the_fixture_copies_only_into_an_empty_moto_and_for_the_same_configuration(aws, settings):
    settings.PORTAL_ADMIN_EMAIL = ""
    first = support.bootstrap_or_copy()
    with cognito.count_calls() as calls:
        assert support.bootstrap_or_copy().pool_id == first.pool_id  # moto holds a pool: bootstrap finds it
    assert calls["ListUserPools"] == 1
    cognito.call("delete_user_pool", UserPoolId=first.pool_id)
    with cognito.count_calls() as calls:
        copied = support.bootstrap_or_copy()
    assert not calls and copied.pool_id != first.pool_id
    cognito.call("delete_user_pool", UserPoolId=copied.pool_id)
    settings.PORTAL_APPLICATIONS = {**settings.PORTAL_APPLICATIONS, "extra": "Another application"}
    with cognito.count_calls() as calls:
        changed = support.bootstrap_or_copy()
    assert calls["CreateUserPool"] == 1
    with cognito.target(changed.pool_id):
        assert "app-extra" in {group.name for group in cognito.groups_list()}
