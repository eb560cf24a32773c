"""manage.py cognito_bootstrap against moto: idempotent, honest in a dry run, safe with a conflicting pool."""

import io
import stat

import pytest
from django.core.management import CommandError, call_command

from accounts import cognito
from accounts.models import Application
from accounts.pool.bootstrap import bootstrap
from accounts.rules import roles

ADMIN_EMAIL = "first.admin@example.com"
ADMIN_PASSWORD = "First-Admin-Pass-1!"
READ_PREFIXES = ("List", "Describe", "Get", "AdminGet", "AdminList")


def writes(calls) -> dict[str, int]:
    """Return the counted calls that change something in Cognito."""
    return {name: n for name, n in calls.items() if not name.startswith(READ_PREFIXES)}


def pool_contents(pool_id: str) -> dict:
    """Return what a pool holds: client names, group names, user emails (sorted, duplicates kept)."""
    with cognito.target(pool_id):
        return {
            "clients": sorted(name for _, name in cognito.clients_list(pool_id)),
            "groups": sorted(group.name for group in cognito.groups_list()),
            "users": sorted(user.email for user in cognito.users_list()),
        }


@pytest.fixture
def admin_settings(settings):
    """Configure a first administrator with a known password."""
    settings.PORTAL_ADMIN_EMAIL = ADMIN_EMAIL
    settings.PORTAL_ADMIN_PASSWORD = ADMIN_PASSWORD
    return settings


def test_second_run_keeps_every_id_and_writes_nothing(aws, admin_settings, db):
    first = bootstrap()
    contents = pool_contents(first.pool_id)
    with cognito.count_calls() as calls:
        second = bootstrap()
    assert (
        second.pool_id,
        second.client_id,
        second.client_secret,
        second.applications_client_id,
        second.application_clients,
    ) == (first.pool_id, first.client_id, first.client_secret, first.applications_client_id, first.application_clients)
    assert writes(calls) == {}
    assert [pid for pid, _ in cognito.pools_list()] == [first.pool_id]
    assert pool_contents(first.pool_id) == contents
    assert contents["clients"] == sorted(
        ["applications", "portal", *(f"applications-{app}" for app in admin_settings.PORTAL_APPLICATIONS)]
    )
    assert len(contents["groups"]) == len(admin_settings.PORTAL_APPLICATIONS) + 2
    assert contents["users"] == [ADMIN_EMAIL]


def test_seeding_twice_creates_no_duplicate_users_or_groups(aws, admin_settings, db):
    admin_settings.COGNITO_EMBEDDED = True
    call_command("cognito_bootstrap", "--seed-demo", "Demo-Password-1!", stdout=io.StringIO())
    pool_id = cognito.pools_list()[0][0]
    seeded = pool_contents(pool_id)
    call_command("cognito_bootstrap", "--seed-demo", "Demo-Password-1!", stdout=io.StringIO())
    assert pool_contents(pool_id) == seeded
    assert len(seeded["users"]) == len(set(seeded["users"])) > 30
    assert "helpdesk@example.com" in seeded["users"]


def test_dry_run_on_an_empty_account_plans_but_changes_nothing(aws, admin_settings, capsys):
    with cognito.count_calls() as calls:
        call_command("cognito_bootstrap", "--dry-run")
    assert writes(calls) == {}
    assert cognito.pools_list() == []
    out = capsys.readouterr().out
    assert "would create user pool 'portal'" in out
    assert f"would create administrator {ADMIN_EMAIL}" in out


def test_dry_run_on_an_incomplete_pool_plans_only_what_is_missing(aws, admin_settings, capsys):
    report = bootstrap()
    with cognito.target(report.pool_id):
        cognito.group_delete("app-crm")
    capsys.readouterr()
    with cognito.count_calls() as calls:
        call_command("cognito_bootstrap", "--dry-run")
    assert writes(calls) == {}
    out = capsys.readouterr().out
    assert "would create group 'app-crm'" in out
    assert "would create user pool" not in out
    assert "app-crm" not in pool_contents(report.pool_id)["groups"]


def test_a_pool_whose_role_attribute_is_a_string_is_refused_unchanged(aws, admin_settings):
    pool_id = cognito.pool_create(
        PoolName="portal",
        UsernameAttributes=["email"],
        Schema=[{"Name": "role_a", "AttributeDataType": "String", "Mutable": True}],
    )
    with cognito.count_calls() as calls, pytest.raises(CommandError) as refused:
        call_command("cognito_bootstrap")
    assert "custom:role_a exists as a mutable String" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert writes(calls) == {}
    assert pool_contents(pool_id) == {"clients": [], "groups": [], "users": []}
    assert "custom:role_b" not in cognito.pool_describe(pool_id).attributes


def test_no_client_may_write_the_role_attributes(pool):
    for client_id in (pool.client_id, pool.applications_client_id, *pool.application_clients.values()):
        described = cognito.client_describe(pool.pool_id, client_id)
        assert not set(described.write_attributes) & set(roles.role_attributes())
        assert set(roles.role_attributes()) <= set(described.read_attributes)


def test_token_validity_follows_the_setting(aws, settings):
    settings.COGNITO_TOKEN_VALIDITY_MINUTES = 20
    report = bootstrap()
    for client_id in (report.client_id, report.applications_client_id):
        described = cognito.client_describe(report.pool_id, client_id)
        assert (described.id_token_minutes, described.access_token_minutes) == (20, 20)


def test_seed_demo_is_refused_unless_embedded(aws, admin_settings):
    admin_settings.COGNITO_EMBEDDED = False
    with pytest.raises(CommandError, match="COGNITO_EMBEDDED=true"):
        call_command("cognito_bootstrap", "--seed-demo", "Demo-Password-1!")
    assert cognito.pools_list() == []


def test_write_env_writes_the_ids_readable_only_by_the_owner(aws, admin_settings, tmp_path, db):
    target = tmp_path / "state" / "embedded.env"
    call_command("cognito_bootstrap", "--write-env", str(target), stdout=io.StringIO())
    ((pool_id, _),) = cognito.pools_list()
    ids = {name: client_id for client_id, name in cognito.clients_list(pool_id)}
    written = dict(line.split("=", 1) for line in target.read_text().splitlines())
    assert written["COGNITO_USER_POOL_ID"] == pool_id
    assert written["COGNITO_APP_CLIENT_ID"] == ids["portal"]
    assert written["COGNITO_APP_CLIENT_SECRET"] == cognito.client_describe(pool_id, ids["portal"]).secret != ""
    assert written["COGNITO_APPLICATIONS_CLIENT_ID"] == ids["applications"]
    assert written["COGNITO_CLIENT_ID_BILLING"] == ids["applications-billing"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_dry_run_writes_no_env_file(aws, admin_settings, tmp_path):
    target = tmp_path / "embedded.env"
    call_command("cognito_bootstrap", "--dry-run", "--write-env", str(target), stdout=io.StringIO())
    assert not target.exists()


def test_first_administrator_signs_in_with_the_configured_password(aws, admin_settings):
    report = bootstrap()
    with cognito.target(report.pool_id, report.client_id, report.client_secret):
        result = cognito.auth_password(ADMIN_EMAIL.upper(), ADMIN_PASSWORD)
        assert result.signed_in
        assert cognito.user_groups(ADMIN_EMAIL) == [admin_settings.PORTAL_ADMIN_GROUP]
    assert report.credentials == [("administrator", ADMIN_EMAIL, f"{ADMIN_PASSWORD}  [password]")]


def test_first_administrator_without_a_password_gets_a_temporary_one(aws, admin_settings):
    admin_settings.PORTAL_ADMIN_PASSWORD = ""
    report = bootstrap()
    ((_, email, shown),) = report.credentials
    temporary = shown.split()[0]
    with cognito.target(report.pool_id, report.client_id, report.client_secret):
        result = cognito.auth_password(email, temporary)
    assert not result.signed_in
    assert result.challenge == "NEW_PASSWORD_REQUIRED"


def test_every_application_gets_its_own_client_recorded_in_the_registry(aws, admin_settings, db):
    call_command("cognito_bootstrap", stdout=io.StringIO())
    ((pool_id, _),) = cognito.pools_list()
    ids = {name: client_id for client_id, name in cognito.clients_list(pool_id)}
    registry = dict(Application.objects.values_list("name", "client_id"))
    assert registry == {app: ids[f"applications-{app}"] for app in admin_settings.PORTAL_APPLICATIONS}
    assert len(set(registry.values())) == len(registry)
