"""A reason or ticket on every change: given on each write form, stored on the audit event, shown in the audit
list, the event page and the export; required for the actions PORTAL_REASON_REQUIRED names."""

import csv
import io
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.html import escape

from accounts import cognito
from accounts.directory import selectors, services
from accounts.models import ApiKey, Application, AuditEvent, BulkJob
from accounts.rules import reasons
from accounts.rules.errors import InvalidInput
from tests.bulk import csv_bytes, run_worker
from tests.support.staff import index_user, user_url
from tests.test_settings import django_process

pytestmark = pytest.mark.django_db

TICKET = "INC-4711: asked by her manager"


def said(response) -> list[str]:
    """Return the messages the response's request left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def roles_of(sub: str) -> list[str]:
    """Return the user's three role attributes, as Cognito holds them."""
    attributes = cognito.user_get(sub).attributes
    return [attributes[f"custom:role_{name}"] for name in "abc"]


def event(action: str) -> AuditEvent:
    """Return the one audit event of an action."""
    return AuditEvent.objects.get(action=action)


def registry_url(name: str, *args) -> str:
    """Return a registry admin URL."""
    return reverse(f"admin:accounts_application_{name}", args=args)


# --- The rule -----------------------------------------------------------------------------------------------


def test_a_reason_is_stripped_and_refused_when_too_long_or_not_one_line(settings):
    assert reasons.reason_check(action="role_change", reason="  CHG-1  ") == "CHG-1"
    assert reasons.reason_check(action="role_change", reason="") == ""
    with pytest.raises(InvalidInput) as too_long:
        reasons.reason_check(action="role_change", reason="x" * (reasons.REASON_MAX + 1))
    assert too_long.value.message == reasons.REASON_TOO_LONG.format(max=reasons.REASON_MAX)
    with pytest.raises(InvalidInput) as two_lines:
        reasons.reason_check(action="role_change", reason="one\nand two")
    assert two_lines.value.message == reasons.REASON_UNPRINTABLE


def test_a_reason_is_required_only_for_the_actions_configured(settings):
    settings.PORTAL_REASON_REQUIRED = ["user_delete"]
    assert reasons.reason_check(action="role_change", reason=" ") == ""
    with pytest.raises(InvalidInput) as missing:
        reasons.reason_check(action="user_delete", reason=" ")
    assert missing.value.message == reasons.REASON_REQUIRED.format(action="user_delete")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("role_change,user_sign_in", "PORTAL_REASON_REQUIRED names user_sign_in, which take no reason"),
        ("role-change", "PORTAL_REASON_REQUIRED: 'role-change' is not an audit action name"),
    ],
)
def test_start_up_stops_on_a_required_reason_for_an_action_that_takes_none(tmp_path, value, problem):
    result = django_process(tmp_path, PORTAL_REASON_REQUIRED=value)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    assert problem in result.stderr


def test_start_up_accepts_the_actions_that_take_a_reason(tmp_path):
    result = django_process(tmp_path, PORTAL_REASON_REQUIRED=",".join(reasons.ACTIONS))
    assert result.returncode == 0, result.stderr


# --- Each write form stores its reason on the audit event -------------------------------------------------


@pytest.mark.parametrize(
    ("view", "data", "action"),
    [
        ("role", {"role": "b", "level": "2", "shown": "a1"}, "role_change"),
        ("access", {"applications": ["billing", "crm"]}, "access_set"),
        ("reset_password", {"confirm": "on"}, "user_reset_password"),
        ("sign_out", {"confirm": "on"}, "user_sign_out"),
        ("disable", {"confirm": "on"}, "user_disable"),
        ("delete", {"confirm": "alice@example.com"}, "user_delete"),
    ],
)
def test_each_user_page_write_audits_its_reason(admin_client, alice, view, data, action):
    response = admin_client.post(user_url(view, alice.sub), {**data, "reason": f"  {TICKET} "})
    assert response.status_code == HTTPStatus.FOUND
    assert (event(action).outcome, event(action).reason) == ("success", TICKET)


def test_enabling_audits_its_reason(admin_client, admin_user, alice):
    services.user_disable(actor=admin_user, sub=alice.sub)
    admin_client.post(user_url("enable", alice.sub), {"reason": TICKET})
    assert cognito.user_get(alice.sub).enabled and event("user_enable").reason == TICKET


def test_an_invitation_audits_its_reason(admin_client, pool):
    data = {"email": "new@example.com", "name": "New", "role": "a", "level": "1", "reason": TICKET}
    assert admin_client.post(user_url("add"), data).status_code == HTTPStatus.FOUND
    assert (event("user_invite").outcome, event("user_invite").reason) == ("success", TICKET)


def test_the_registry_and_api_key_writes_audit_their_reasons(admin_client, pool):
    admin_client.post(registry_url("add"), {"name": "payroll", "description": "Pay", "reason": "CHG-1"})
    payroll = Application.objects.get(name="payroll")
    admin_client.post(registry_url("update", payroll.pk), {"description": "Payroll", "reason": "CHG-2"})
    admin_client.post(registry_url("key_issue", payroll.pk), {"reason": "CHG-3"})
    key = ApiKey.objects.get(application=payroll)
    admin_client.post(registry_url("key_revoke", payroll.pk, key.key_id), {"reason": "CHG-4"})
    admin_client.post(registry_url("delete", payroll.pk), {"reason": "CHG-5"})
    assert not Application.objects.filter(name="payroll").exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", "outcome", "reason")) == [
        ("application_create", "success", "CHG-1"),
        ("application_update", "success", "CHG-2"),
        ("api_key_issue", "success", "CHG-3"),
        ("api_key_revoke", "success", "CHG-4"),
        ("application_delete", "success", "CHG-5"),
    ]


def test_removing_a_member_from_the_application_page_audits_its_reason(admin_client, alice):
    billing = Application.objects.get(name="billing")
    page = admin_client.get(registry_url("change", billing.pk)).content.decode()
    assert 'name="reason"' in page and "Remove access" in page
    admin_client.post(registry_url("member_remove", billing.pk, alice.sub), {"reason": TICKET})
    assert cognito.user_groups(alice.sub) == [] and event("access_set").reason == TICKET


def test_the_action_bar_and_every_write_form_offer_the_reason_field(admin_client, alice):
    bar = admin_client.get(user_url("changelist")).content.decode()
    assert f'<label>{reasons.LABEL} <input type="text" name="reason"' in bar
    for url in (user_url("change", alice.sub), user_url("add"), user_url("delete", alice.sub)):
        assert f"{reasons.LABEL}:</label>" in admin_client.get(url).content.decode(), url
    assert reasons.LABEL in admin_client.get(reverse("admin:accounts_bulkjob_import")).content.decode()


def test_a_bulk_action_carries_its_reason_to_every_row(admin_client, alice, make_cognito_user):
    bob = make_cognito_user("bob@example.com", role=("b", 1), apps=[])
    index_user(bob)
    data = {
        "action": "bulk_set_role",
        "index": "0",
        "select_across": "0",
        "_selected_action": [alice.sub, bob.sub],
        "role": "c",
        "level": "2",
        "reason": TICKET,
    }
    response = admin_client.post(user_url("changelist"), data)
    assert said(response) == ["Set role C2: 2 done, 0 failed of 2."]
    assert BulkJob.objects.get().reason == TICKET
    assert list(AuditEvent.objects.order_by("id").values_list("action", "target", "reason")) == [
        ("bulk_action", f"job {BulkJob.objects.get().pk}", TICKET),
        ("role_change", "alice@example.com", TICKET),
        ("role_change", "bob@example.com", TICKET),
    ]


def test_an_import_carries_its_reason_to_every_row(admin_client, alice):
    upload = SimpleUploadedFile(
        "users.csv", csv_bytes("new.person@example.com,New Person,b,2,crm", "alice@example.com,Alice,c,1,billing")
    )
    response = admin_client.post(reverse("admin:accounts_bulkjob_import"), {"file": upload, "reason": TICKET})
    job = BulkJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND and job.reason == TICKET
    run_worker()  # the preview
    page = admin_client.get(reverse("admin:accounts_bulkjob_change", args=[job.pk])).content.decode()
    assert f'<p class="note" id="job-reason">Reason or ticket: {escape(TICKET)}' in page
    admin_client.post(reverse("admin:accounts_bulkjob_apply", args=[job.pk]))
    run_worker()
    assert list(AuditEvent.objects.order_by("id").values_list("action", "target", "reason")) == [
        ("bulk_import", f"job {job.pk}", TICKET),
        ("user_invite", "new.person@example.com", TICKET),
        ("role_change", "alice@example.com", TICKET),
    ]


# --- Required: a clear form error, nothing changed in Cognito ------------------------------------------------


def test_a_required_reason_missing_refuses_the_role_change_and_changes_nothing(admin_client, alice, settings):
    settings.PORTAL_REASON_REQUIRED = ["role_change"]
    with cognito.count_calls() as calls:
        response = admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1"})
    assert said(response) == [reasons.REASON_REQUIRED.format(action="role_change")]
    assert "AdminUpdateUserAttributes" not in calls and roles_of(alice.sub) == ["1", "0", "0"]
    assert (event("role_change").outcome, event("role_change").error) == (
        "failure",
        reasons.REASON_REQUIRED.format(action="role_change"),
    )
    admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1", "reason": TICKET})
    assert roles_of(alice.sub) == ["0", "2", "0"]


def test_a_required_reason_missing_keeps_the_user_on_the_delete_form(admin_client, alice, settings):
    settings.PORTAL_REASON_REQUIRED = ["user_delete"]
    response = admin_client.post(user_url("delete", alice.sub), {"confirm": "alice@example.com"})
    assert response.status_code == HTTPStatus.OK
    assert said(response) == [reasons.REASON_REQUIRED.format(action="user_delete")]
    assert cognito.user_get(alice.sub).email == "alice@example.com" and selectors.entry_get(alice.sub)


def test_a_required_reason_missing_refuses_the_invitation(admin_client, pool, settings):
    settings.PORTAL_REASON_REQUIRED = ["user_invite"]
    data = {"email": "new@example.com", "name": "New", "role": "a", "level": "1"}
    response = admin_client.post(user_url("add"), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert escape(reasons.REASON_REQUIRED.format(action="user_invite")) in response.content.decode()
    assert [user.email for user in cognito.users_list()] == ["admin@example.com"]


def test_a_required_reason_missing_refuses_a_bulk_action_before_any_row(admin_client, alice, settings):
    settings.PORTAL_REASON_REQUIRED = ["role_change"]
    data = {
        "action": "bulk_set_role",
        "index": "0",
        "select_across": "0",
        "_selected_action": [alice.sub],
        "role": "c",
        "level": "2",
    }
    response = admin_client.post(user_url("changelist"), data)
    assert said(response) == [reasons.REASON_REQUIRED.format(action="role_change")]
    assert not BulkJob.objects.exists() and roles_of(alice.sub) == ["1", "0", "0"]


def test_a_required_reason_missing_refuses_an_import_upload(admin_client, pool, settings):
    settings.PORTAL_REASON_REQUIRED = ["user_invite"]
    upload = SimpleUploadedFile("users.csv", csv_bytes("new.person@example.com,New Person,b,2,crm"))
    response = admin_client.post(reverse("admin:accounts_bulkjob_import"), {"file": upload})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert escape(reasons.REASON_REQUIRED.format(action="user_invite")) in response.content.decode()
    assert not BulkJob.objects.exists()


def test_a_help_desk_member_is_denied_on_a_staff_account_before_the_missing_reason(
    helpdesk_client, admin_identity, settings
):
    settings.PORTAL_REASON_REQUIRED = ["role_change"]
    index_user(admin_identity)
    helpdesk_client.post(user_url("role", admin_identity.sub), {"role": "b", "level": "2", "shown": "none"})
    assert event("role_change").outcome == "denied"


def test_a_reason_over_the_limit_is_refused_and_nothing_changes(admin_client, alice):
    data = {"role": "b", "level": "2", "shown": "a1", "reason": "x" * (reasons.REASON_MAX + 1)}
    response = admin_client.post(user_url("role", alice.sub), data)
    assert said(response) == [reasons.REASON_TOO_LONG.format(max=reasons.REASON_MAX)]
    assert roles_of(alice.sub) == ["1", "0", "0"] and event("role_change").outcome == "failure"


# --- Commands pass a reason too -----------------------------------------------------------------------------


def test_import_users_needs_the_reason_the_configuration_requires_and_audits_it(admin_user, alice, tmp_path, settings):
    settings.PORTAL_REASON_REQUIRED = ["role_change"]
    path = tmp_path / "users.csv"
    path.write_bytes(csv_bytes("alice@example.com,Alice,c,1,billing"))
    with pytest.raises(CommandError, match=r"Give a reason or ticket for this change \(role_change\)"):
        call_command("import_users", str(path), "--apply", "--actor", "admin@example.com")
    assert roles_of(alice.sub) == ["1", "0", "0"] and not BulkJob.objects.exists()
    call_command("import_users", str(path), "--apply", "--actor", "admin@example.com", "--reason", TICKET)
    assert roles_of(alice.sub) == ["0", "0", "1"] and event("role_change").reason == TICKET


def test_cognito_check_fix_audits_each_repair_with_its_reason(pool, make_cognito_user, settings):
    settings.PORTAL_ROLE_NAMES = {"c": "Manager"}
    user = make_cognito_user("several@example.com", role=("b", 2))
    cognito.user_update_attributes(user.sub, {"custom:role_c": "1"})  # drift made outside the portal
    index_user(user)
    out = io.StringIO()
    call_command("cognito_check", "--fix", "--reason", "CHG-9 drift clean-up", stdout=out)
    assert "fix: several@example.com: now holds Manager · level 1 (C1)" in out.getvalue()
    assert (event("role_change").outcome, event("role_change").reason) == ("success", "CHG-9 drift clean-up")


# --- Shown, escaped, in the audit list, the event page and the export ---------------------------------------


def test_the_reason_is_shown_escaped_in_the_audit_list_event_page_history_and_export(admin_client, admin_user, alice):
    hostile = '<script>alert("x")</script> =HYPERLINK("y")'
    services.user_sign_out(actor=admin_user, sub=alice.sub, reason=hostile)
    signed_out = event("user_sign_out")
    for url in (
        reverse("admin:accounts_auditevent_changelist"),
        reverse("admin:accounts_auditevent_change", args=[signed_out.pk]),
        user_url("change", alice.sub),
    ):
        page = admin_client.get(url).content.decode()
        assert escape(hostile) in page and hostile not in page
    response = admin_client.get(reverse("admin:accounts_auditevent_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["reason"] for row in rows if row["action"] == "user_sign_out"] == [hostile]


def test_the_audit_list_finds_the_events_of_a_ticket(admin_client, admin_user, alice):
    services.user_sign_out(actor=admin_user, sub=alice.sub, reason="INC-4711")
    services.user_reset_password(actor=admin_user, sub=alice.sub, reason="INC-9")
    response = admin_client.get(reverse("admin:accounts_auditevent_changelist"), {"reason": "inc-47"})
    assert [found.action for found in response.context["cl"].result_list] == ["user_sign_out"]
    exported = admin_client.get(reverse("admin:accounts_auditevent_export"), {"reason": "inc-47"})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row["reason"] for row in rows] == ["INC-4711"]
