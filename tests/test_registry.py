"""The application registry: screens for the four personas, groups round-tripping through Cognito, bad input."""

import csv
import io
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import cognito
from accounts.applications import services as app_services
from accounts.models import ApiKey, Application, AuditEvent, DirectoryGrant
from accounts.rules import roles
from tests.faults import cognito_fault
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db

OK, FOUND, FORBIDDEN, BAD = HTTPStatus.OK, HTTPStatus.FOUND, HTTPStatus.FORBIDDEN, HTTPStatus.BAD_REQUEST
ARN = "arn:aws:iam::123456789012:role/portal/billing-api"


def url(name: str, *args) -> str:
    """Return a registry admin URL."""
    return reverse(f"admin:accounts_application_{name}", args=args)


def app(name: str = "billing") -> Application:
    """Return the registry row."""
    return Application.objects.get(name=name)


def billing_pk(_=None) -> int:
    return app("billing").pk


VIEWS = {
    "list": ("get", lambda: url("changelist"), None, OK),
    "add form": ("get", lambda: url("add"), None, OK),
    "create": ("post", lambda: url("add"), {"name": "payroll", "description": "Pay"}, FOUND),
    "page": ("get", lambda: url("change", billing_pk()), None, OK),
    "update": ("post", lambda: url("update", billing_pk()), {"description": "New text"}, FOUND),
    "delete form": ("get", lambda: url("delete", billing_pk()), None, OK),
    "delete": ("post", lambda: url("delete", app("docs").pk), {}, FOUND),
    "members csv": ("get", lambda: url("members_csv", billing_pk()), None, OK),
    "issue key": ("post", lambda: url("key_issue", billing_pk()), {}, OK),
    "refresh": ("post", lambda: url("refresh"), {}, FOUND),
    "pool health": ("get", lambda: url("health"), None, OK),
}


@pytest.mark.parametrize("persona", ["anonymous", "nonstaff", "helpdesk", "admin"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_every_registry_view_against_every_persona(view, persona, persona_client, alice):
    method, target, data, for_admin = VIEWS[view]
    target = target()
    before = (Application.objects.count(), ApiKey.objects.count(), sorted(g.name for g in cognito.groups_list()))
    response = getattr(persona_client, method)(target, data or {})
    expected = {"anonymous": FOUND, "nonstaff": FORBIDDEN, "helpdesk": FORBIDDEN, "admin": for_admin}[persona]
    assert response.status_code == expected
    if persona == "anonymous":
        assert response["Location"].startswith(reverse("accounts:login"))
    if persona != "admin":
        after = (Application.objects.count(), ApiKey.objects.count(), sorted(g.name for g in cognito.groups_list()))
        assert after == before and app("billing").description == "Billing and invoices"


@pytest.mark.parametrize("action", ["update", "key_issue", "refresh"])
def test_no_write_on_get(action, admin_client, pool):
    target = url(action) if action == "refresh" else url(action, billing_pk())
    assert admin_client.get(target).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert ApiKey.objects.count() == 0


def test_list_counts_members_from_the_index_in_a_constant_number_of_queries(admin_client, make_cognito_user):
    for number in range(3):
        index_user(make_cognito_user(f"u{number}@example.com", apps=["billing", "crm"][: number + 1]))
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get(url("changelist"))
    counts = {row.name: row.members for row in response.context["cl"].result_list}
    assert counts["billing"] == 3 and counts["crm"] == 2 and counts["hr"] == 0
    for number in range(3, 8):
        index_user(make_cognito_user(f"u{number}@example.com", apps=["hr", "docs", "fleet"]))
    with CaptureQueriesContext(connection) as more:
        admin_client.get(url("changelist"))
    assert len(more) == len(few)


def test_create_makes_the_group_with_its_settings(admin_client, pool):
    response = admin_client.post(
        url("add"), {"name": "payroll", "description": "Salaries", "role_arn": ARN, "precedence": "5"}
    )
    assert response.status_code == FOUND and response["Location"] == url("change", app("payroll").pk)
    group = cognito.group_get("app-payroll")
    assert (group.description, group.role_arn, group.precedence) == ("Salaries", ARN, 5)
    event = AuditEvent.objects.get(action="application_create")
    assert event.outcome == AuditEvent.SUCCESS and event.after["role_arn"] == ARN
    client = cognito.client_describe(cognito.pool_id(), app("payroll").client_id)  # its own app client
    assert client.name == "applications-payroll" and event.after["client_id"] == client.id
    assert not set(client.write_attributes) & set(roles.role_attributes())
    assert client.id not in {pool.applications_client_id, *pool.application_clients.values()}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "Pay Roll"}, "lower-case letters"),
        ({"name": "1payroll"}, "lower-case letters"),
        ({"name": "p" * 49}, "lower-case letters"),
        ({"name": "billing"}, "already exists"),
        ({"name": "payroll", "role_arn": "arn:aws:iam::123:role/x"}, "IAM role ARN like"),
        ({"name": "payroll", "role_arn": "arn:aws:s3:::bucket/role/x"}, "IAM role ARN like"),
        ({"name": "payroll", "role_arn": "arn:aws:iam::123456789012:user/bob"}, "IAM role ARN like"),
        ({"name": "payroll", "precedence": "-1"}, "Precedence must be"),
        ({"name": "payroll", "precedence": "first"}, "Precedence must be"),
        ({"name": "payroll", "description": "bad\x00text"}, "without control characters"),
    ],
    ids=[
        "spaces",
        "digit-first",
        "too-long",
        "duplicate",
        "short-account",
        "not-iam",
        "not-a-role",
        "negative-precedence",
        "word-precedence",
        "control-char",
    ],
)
def test_bad_input_is_refused_with_nothing_changed(data, message, admin_client, pool):
    groups = sorted(group.name for group in cognito.groups_list())
    response = admin_client.post(url("add"), {"description": "", "role_arn": "", "precedence": "", **data})
    assert response.status_code == BAD
    assert any(message in str(m) for m in response.context["messages"])
    assert sorted(group.name for group in cognito.groups_list()) == groups
    assert Application.objects.count() == 10
    assert AuditEvent.objects.get(action="application_create").outcome == AuditEvent.FAILURE


def test_a_name_cognito_refuses_changes_nothing_simulated(admin_client, pool):
    with cognito_fault("InvalidParameterException", operations=["CreateGroup"]):
        response = admin_client.post(url("add"), {"name": "payroll"})
    assert response.status_code == BAD and "Cognito refused" in str(list(response.context["messages"])[0])
    assert not Application.objects.filter(name="payroll").exists()
    with pytest.raises(cognito.ResourceNotFound):
        cognito.group_get("app-payroll")


def test_a_group_already_in_cognito_points_to_refresh(admin_client, pool):
    cognito.group_create("app-payroll", "made elsewhere")
    response = admin_client.post(url("add"), {"name": "payroll"})
    assert response.status_code == BAD and "Refresh from Cognito" in str(list(response.context["messages"])[0])


def test_update_round_trips_through_cognito(admin_client, pool):
    response = admin_client.post(
        url("update", billing_pk()), {"description": "Invoices <b>", "role_arn": ARN, "precedence": "0"}
    )
    assert response.status_code == FOUND
    group = cognito.group_get("app-billing")
    assert (group.description, group.role_arn, group.precedence) == ("Invoices <b>", ARN, 0)
    assert (app().description, app().role_arn, app().precedence) == ("Invoices <b>", ARN, 0)
    page = admin_client.get(url("change", billing_pk())).content.decode()
    assert "Invoices &lt;b&gt;" in page and "Invoices <b>" not in page


def test_clearing_an_iam_role_is_refused_plainly(admin_client, pool):
    admin_client.post(url("update", billing_pk()), {"role_arn": ARN, "description": "Kept"})
    response = admin_client.post(url("update", billing_pk()), {"role_arn": "", "description": "x"}, follow=True)
    assert "Cognito cannot remove a group" in response.content.decode()
    assert cognito.group_get("app-billing").role_arn == ARN and app().description == "Kept"
    assert cognito.group_get("app-billing").description == "Kept"


def test_delete_with_members_needs_the_name_typed(admin_client, alice):
    response = admin_client.post(url("delete", billing_pk()), {"confirm": "Billing"})
    assert response.status_code == OK and "still has 1 member" in response.content.decode()
    assert cognito.group_get("app-billing") and Application.objects.filter(name="billing").exists()
    response = admin_client.post(url("delete", billing_pk()), {"confirm": "billing"})
    assert response.status_code == FOUND
    with pytest.raises(cognito.ResourceNotFound):
        cognito.group_get("app-billing")
    assert not DirectoryGrant.objects.filter(application="billing").exists()
    assert cognito.user_groups(alice.sub) == []
    outcomes = list(
        AuditEvent.objects.filter(action="application_delete").order_by("id").values_list("outcome", flat=True)
    )
    assert outcomes == [AuditEvent.FAILURE, AuditEvent.SUCCESS]
    assert AuditEvent.objects.filter(action="application_delete").last().before["members"] == 1


def test_delete_counts_members_cognito_has_even_if_the_index_does_not(admin_client, make_cognito_user):
    make_cognito_user("unindexed@example.com", apps=["docs"])
    response = admin_client.post(url("delete", app("docs").pk), {})
    assert "still has 1 member" in response.content.decode()
    assert cognito.group_get("app-docs")


def test_delete_without_members_needs_no_typing(admin_client, pool):
    assert admin_client.post(url("delete", app("fleet").pk), {}).status_code == FOUND
    assert not Application.objects.filter(name="fleet").exists()


def test_members_page_filters_by_role_and_removes_access_in_place(admin_client, make_cognito_user):
    for email, role in [("ann@example.com", ("a", 1)), ("bob@example.com", ("b", 2)), ("bea@example.com", ("b", 3))]:
        index_user(make_cognito_user(email, role=role, apps=["billing", "crm"]))
    page = admin_client.get(url("change", billing_pk()), {"role": "b"})
    assert [entry.email for entry in page.context["page"]] == ["bea@example.com", "bob@example.com"]
    bob = page.context["page"][1]
    response = admin_client.post(url("member_remove", billing_pk(), bob.sub), {"role": "b", "page": "1"})
    assert response.status_code == FOUND and response["Location"].endswith("?role=b&page=1")
    assert cognito.user_groups(bob.sub) == ["app-crm"]
    page = admin_client.get(url("change", billing_pk()), {"role": "b"})
    assert [entry.email for entry in page.context["page"]] == ["bea@example.com"]
    removal = AuditEvent.objects.get(action="access_set").after
    assert removal["revoked"] == ["billing"] and removal["sessions_revoked"] is True


def test_members_csv_neutralises_formulas(admin_client, make_cognito_user):
    index_user(make_cognito_user("evil@example.com", name='=HYPERLINK("http://x")', apps=["billing"]))
    index_user(make_cognito_user("fine@example.com", name="Fine Person", role=("c", 2), apps=["billing"]))
    response = admin_client.get(url("members_csv", billing_pk()))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["email", "name", "role", "level", "role_label", "status", "enabled", "sub", "ends"]
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["evil@example.com"][1] == '\'=HYPERLINK("http://x")'
    assert by_email["fine@example.com"][1:4] == ["Fine Person", "c", "2"]


def test_api_key_is_shown_once_and_stored_only_as_a_hash(admin_client, pool):
    response = admin_client.post(url("key_issue", billing_pk()))
    plain = response.context["key"].plain
    assert plain in response.content.decode() and response["Cache-Control"].startswith("max-age=0")
    key = ApiKey.objects.get()
    assert key.digest != plain and plain not in str(list(ApiKey.objects.values_list()))
    assert plain not in str(list(AuditEvent.objects.values_list()))
    assert plain.split("_", 2)[2] not in admin_client.get(url("change", billing_pk())).content.decode()


def test_revoking_a_key(admin_client, pool):
    admin_client.post(url("key_issue", billing_pk()))
    key = ApiKey.objects.get()
    admin_client.post(url("key_revoke", billing_pk(), key.key_id))
    key.refresh_from_db()
    assert not key.active
    response = admin_client.post(url("key_revoke", billing_pk(), key.key_id), follow=True)
    assert "There is no active key" in response.content.decode()


def test_refresh_adds_groups_made_outside_and_lists_missing_ones(admin_client, pool):
    cognito.group_create("app-payroll", "Made in the console", precedence=3)
    cognito.group_create("portal-other", "not an application")
    cognito.group_delete("app-hr")
    response = admin_client.post(url("refresh"), follow=True)
    text = response.content.decode()
    assert "1 added" in text and "No Cognito group for: hr" in text
    assert (app("payroll").description, app("payroll").precedence) == ("Made in the console", 3)
    assert not Application.objects.filter(name__contains="other").exists()


def test_pool_health_page_lists_problems(admin_client, pool, make_cognito_user):
    index_user(make_cognito_user("nobody@example.com", role=None))
    response = admin_client.get(url("health"))
    text = response.content.decode()
    assert "nobody@example.com holds no role." in text and "1 problem found." in text


def test_a_new_application_can_be_granted_on_the_user_page(admin_client, alice):
    admin_client.post(url("add"), {"name": "payroll"})
    response = admin_client.post(
        reverse("admin:accounts_directoryentry_access", args=[alice.sub]),
        {"applications": ["billing", "payroll"], "confirm": "on"},
    )
    assert response.status_code == FOUND
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing", "app-payroll"]


def test_services_refuse_an_unknown_application(admin_user, pool):
    with pytest.raises(app_services.ServiceError, match="no application named nope"):
        app_services.application_update(actor=admin_user, name="nope", description="x")
