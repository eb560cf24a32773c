"""cognito_check: a bootstrapped pool is clean; a pool made bad on purpose shows every kind of problem."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import cognito
from accounts.models import Application
from accounts.pool import checks as pool_checks
from accounts.pool.bootstrap import pool_settings
from accounts.rules import roles
from tests.faults import cognito_fault


def run_check() -> tuple[str, CommandError | None]:
    """Run the command; return its output and the CommandError it ended with, if any."""
    out = StringIO()
    try:
        call_command("cognito_check", stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def findings(check: str) -> list[pool_checks.Finding]:
    """Run every check and return the findings of one."""
    return pool_checks.pool_check().by_check()[check]


@pytest.mark.django_db
def test_bootstrapped_pool_with_good_users_passes(pool, make_cognito_user, admin_identity):
    make_cognito_user("ok@example.com", role=("c", 3), apps=["billing"])
    output, error = run_check()
    assert error is None, output
    assert "No problems found." in output and output.count("[ok  ]") == len(pool_checks.CHECKS)


@pytest.fixture
def bad_schema_pool(aws, settings):
    """A pool whose role_a is a String, role_b an immutable Number, role_c missing."""
    params = pool_settings()
    params["PoolName"] = "bad-schema"
    params["Schema"] = [item for item in params["Schema"] if not item["Name"].startswith("role_")] + [
        {"Name": "role_a", "AttributeDataType": "String", "Mutable": True},
        {"Name": "role_b", "AttributeDataType": "Number", "Mutable": False},
    ]
    settings.COGNITO_USER_POOL_ID = cognito.pool_create(**params)
    return settings.COGNITO_USER_POOL_ID


@pytest.mark.django_db
def test_role_attributes_of_the_wrong_kind_or_missing_are_found(bad_schema_pool):
    found = {finding.subject: finding.message for finding in findings("role_attributes")}
    assert "mutable String" in found["custom:role_a"]
    assert "immutable Number" in found["custom:role_b"]
    assert "does not exist" in found["custom:role_c"]


def test_role_attribute_not_allowing_the_highest_level_is_found(settings):
    settings.PORTAL_ROLE_MAX_LEVEL = 3
    attribute = {
        "AttributeDataType": "Number",
        "Mutable": True,
        "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "2"},
    }
    info = cognito.PoolInfo("p", "p", dict.fromkeys(roles.role_attributes(), attribute), "OFF", {}, ("email",))
    assert [finding.subject for finding in pool_checks.check_role_attributes(info)] == roles.role_attributes()


@pytest.mark.django_db
def test_clients_that_can_write_roles_are_found(pool):
    cognito.client_create(
        pool.pool_id,
        ClientName="writes-role",
        WriteAttributes=["name", "custom:role_b"],
        IdTokenValidity=15,
        AccessTokenValidity=15,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes"},
    )
    cognito.client_create(
        pool.pool_id,
        ClientName="writes-all",
        IdTokenValidity=15,
        AccessTokenValidity=15,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes"},
    )
    messages = [finding.message for finding in findings("client_writes")]
    assert len(messages) == 2
    assert any("'writes-role'" in message and "custom:role_b" in message for message in messages)
    assert any("'writes-all'" in message and "every mutable attribute" in message for message in messages)


@pytest.mark.django_db
def test_token_lifetimes_over_the_bound_are_found(pool, settings):
    settings.COGNITO_TOKEN_VALIDITY_MINUTES = 15
    settings.COGNITO_REFRESH_TOKEN_VALIDITY_HOURS = 12
    cognito.client_create(
        pool.pool_id,
        ClientName="long-lived",
        WriteAttributes=["name"],
        IdTokenValidity=1,
        AccessTokenValidity=20,
        RefreshTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes"},
    )
    messages = [finding.message for finding in findings("token_lifetimes")]
    assert any("ID tokens living 60 minutes" in message for message in messages)
    assert any("access tokens living 20 minutes" in message for message in messages)
    assert any("refresh tokens living 43200 minutes" in message for message in messages)
    assert len(messages) == 3


@pytest.mark.django_db
def test_missing_application_and_staff_groups_are_found(pool):
    cognito.group_delete("app-hr")
    cognito.group_delete("portal-helpdesk")
    assert {finding.subject for finding in findings("groups")} == {"app-hr", "portal-helpdesk"}


@pytest.fixture
def drifted(make_cognito_user, admin_identity):
    """Users made to drift outside the portal, plus a staff member without a role (not drift)."""
    make_cognito_user("none@example.com", role=None)
    make_cognito_user("several@example.com", role=("a", 2))
    cognito.user_update_attributes("several@example.com", {"custom:role_c": "1"})
    make_cognito_user("junk@example.com", role=("b", 1))
    cognito.user_update_attributes("junk@example.com", {"custom:role_b": "999", "custom:role_a": "x"})
    make_cognito_user("fine@example.com", role=("b", 3))


@pytest.mark.django_db
def test_users_with_no_role_or_several_or_bad_levels_are_listed(pool, drifted):
    found = {finding.subject: finding for finding in findings("role_drift")}
    assert set(found) == {"none@example.com", "several@example.com", "junk@example.com"}
    assert found["none@example.com"].kind == pool_checks.NO_ROLE
    assert found["several@example.com"].kind == pool_checks.SEVERAL_ROLES
    assert found["several@example.com"].held == (roles.Role("a", 2), roles.Role("c", 1))
    assert found["junk@example.com"].kind == pool_checks.BAD_LEVEL
    assert "custom:role_b='999'" in found["junk@example.com"].message


@pytest.mark.django_db
def test_command_lists_each_problem_and_exits_non_zero(pool, drifted):
    cognito.group_delete("app-crm")
    output, error = run_check()
    assert error is not None and error.returncode == 1 and "4 problems found." in str(error)
    assert "Group 'app-crm' does not exist." in output
    assert "several@example.com holds several roles: A2, C1." in output
    assert "none@example.com holds no role." in output


@pytest.mark.django_db
def test_command_when_cognito_is_unreachable_exits_2_simulated(pool):
    with cognito_fault("ServiceUnavailable", status=503):
        output, error = run_check()
    assert error is not None and error.returncode == 2 and "Is COGNITO_ENDPOINT_URL right" in str(error)
    assert "[ok" not in output


@pytest.mark.parametrize(
    "held, expected",
    [
        ((roles.Role("a", 2), roles.Role("c", 1)), roles.Role("c", 1)),
        ((roles.Role("a", 1), roles.Role("c", 1)), roles.Role("a", 1)),
        ((roles.Role("b", 999),), None),
        ((), None),
    ],
)
def test_least_privileged_role_of_several(held, expected):
    assert pool_checks.least_privileged(held) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        ("b2", roles.Role("b", 2)),
        ("c3", roles.Role("c", 3)),
        ("a9", None),
        ("none", None),
        ("several", None),
        ("", None),
    ],
)
def test_role_keys_from_the_audit(key, expected):
    assert pool_checks.parse_role_key(key) == expected


# --- --fix -------------------------------------------------------------------------------------


def run_fix(*extra) -> tuple[str, CommandError | None]:
    """Run the command with --fix; return its output and the CommandError it ended with, if any."""
    out = StringIO()
    try:
        call_command("cognito_check", "--fix", *extra, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def role_values(email: str) -> dict[str, str]:
    """Return the user's role attributes as Cognito has them."""
    attributes = cognito.user_get(email).attributes
    return {name: attributes.get(name, "") for name in roles.role_attributes()}


@pytest.mark.django_db
def test_fix_restores_the_role_the_portal_last_set(pool, make_cognito_user, admin_identity):
    from accounts.directory import services
    from accounts.models import AuditEvent
    from tests.support.staff import index_user, local_staff

    user = make_cognito_user("eve@example.com", role=("a", 2))
    index_user(user)
    services.role_change(actor=local_staff(admin_identity, "admin"), sub=user.sub, role="b", level=3, shown="a2")
    cognito.user_update_attributes(user.sub, {"custom:role_c": "1"})  # an edit made outside the portal
    output, error = run_fix()
    assert error is None, output
    assert "fix: eve@example.com: now holds B3" in output and output.rstrip().endswith("No problems found.")
    assert role_values("eve@example.com") == {"custom:role_a": "0", "custom:role_b": "3", "custom:role_c": "0"}
    event = AuditEvent.objects.filter(action="role_change").first()
    assert (event.actor, event.outcome, event.after["role"]) == ("manage.py cognito_check --fix", "success", "b3")


@pytest.mark.django_db
def test_fix_keeps_the_least_privileged_of_several_roles(pool, drifted):
    output, error = run_fix()
    assert "fix: several@example.com: now holds C1" in output
    assert role_values("several@example.com") == {"custom:role_a": "0", "custom:role_b": "0", "custom:role_c": "1"}
    assert "junk@example.com: left as is" in output and role_values("junk@example.com")["custom:role_b"] == "999"
    assert "none@example.com: left as is" in output
    assert error is not None and error.returncode == 1  # none@ is still without a role


@pytest.mark.django_db
def test_fix_with_a_default_role_repairs_everyone(pool, drifted):
    output, error = run_fix("--default-role", "a:1")
    assert error is None, output
    assert role_values("none@example.com") == {"custom:role_a": "1", "custom:role_b": "0", "custom:role_c": "0"}
    assert role_values("junk@example.com") == {"custom:role_a": "1", "custom:role_b": "0", "custom:role_c": "0"}
    assert role_values("fine@example.com")["custom:role_b"] == "3"


@pytest.mark.django_db
def test_fix_signs_the_repaired_user_out(pool, make_cognito_user, app_sign_in):
    make_cognito_user("tom@example.com", role=("a", 1))
    cognito.user_update_attributes("tom@example.com", {"custom:role_b": "2"})
    refresh_token = app_sign_in("tom@example.com")["RefreshToken"]
    run_fix()
    with pytest.raises(cognito.NotAuthorized):
        cognito.call(
            "initiate_auth",
            ClientId=pool.application_clients["billing"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )


@pytest.mark.parametrize("value", ["z:1", "a:9", "a", "a:x"])
def test_bad_default_role_is_refused(value):
    with pytest.raises(CommandError, match="ROLE:LEVEL"):
        call_command("cognito_check", "--fix", "--default-role", value, stdout=StringIO())


@pytest.mark.django_db
def test_applications_sharing_one_client_or_lacking_their_own_are_findings(pool, settings):
    assert findings("app_clients") == []
    settings.PORTAL_APPLICATIONS_SHARE_CLIENT = True
    settings.COGNITO_APPLICATIONS_CLIENT_ID = pool.applications_client_id
    Application.objects.filter(name="hr").update(client_id="")
    Application.objects.filter(name="crm").update(client_id=pool.application_clients["billing"])
    found = {finding.subject: finding.message for finding in findings("app_clients")}
    assert found == {
        "PORTAL_APPLICATIONS_SHARE_CLIENT": pool_checks.SAID["shared"].format(client=pool.applications_client_id),
        "hr": pool_checks.SAID["no_client"].format(app="hr"),
        pool.application_clients["billing"]: pool_checks.SAID["same_client"].format(
            apps="billing, crm", client=pool.application_clients["billing"]
        ),
    }
    output, error = run_check()
    assert error is not None and "a token issued for one application is accepted for all the others" in output
