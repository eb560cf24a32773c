"""The screens' forms check shape (required, choices, min/max) with the services' own messages."""

from http import HTTPStatus

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts import cognito
from accounts.applications import services as app_services
from accounts.applications.forms import (
    ApplicationDeleteForm,
    ApplicationForm,
    MemberListForm,
    NewApplicationForm,
)
from accounts.bulk import actions as bulk_actions
from accounts.bulk import jobs
from accounts.bulk.forms import BulkParametersForm, ResumeForm
from accounts.directory import selectors, services
from accounts.directory.forms import AccessForm, DeleteForm, InviteForm, RoleForm, first_error
from accounts.forms import LONGEST
from accounts.models import Application, AuditEvent, BulkJob, BulkRow
from accounts.rules import roles

pytestmark = pytest.mark.django_db

UNKNOWN_Z = roles.UNKNOWN_ROLE.format(name="z", names="a, b, c")
LEVEL = roles.BAD_LEVEL.format(max=3)
INVITE = {"email": "new.person@example.com", "name": "New Person", "role": "b", "level": "2", "applications": ["crm"]}


def refusal(form) -> str:
    """Return the form's first error, asserting that it refused the input."""
    assert not form.is_valid()
    return first_error(form)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"role": "z", "level": "1"}, UNKNOWN_Z),
        ({"role": "", "level": "1"}, roles.UNKNOWN_ROLE.format(name="", names="a, b, c")),
        ({"role": "b", "level": "0"}, LEVEL),
        ({"role": "b", "level": "4"}, LEVEL),
        ({"role": "b", "level": "two"}, LEVEL),
        ({"role": "b"}, LEVEL),
    ],
)
def test_the_role_form_enforces_the_roles_and_the_level_range(data, message):
    assert refusal(RoleForm({**data, "shown": "a1"})) == message


def test_the_role_form_passes_a_level_as_a_number():
    form = RoleForm({"role": "c", "level": "3", "shown": "a1"})
    assert form.is_valid() and form.cleaned_data == {"role": "c", "level": 3, "shown": "a1", "reason": ""}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("email", "not-an-email", services.MESSAGES["invalid_email"]),
        ("email", "", services.MESSAGES["invalid_email"]),
        ("name", "", services.MESSAGES["invalid_name"].format(max=services.NAME_MAX)),
        ("name", "x" * (services.NAME_MAX + 1), services.MESSAGES["invalid_name"].format(max=services.NAME_MAX)),
        ("name", "Bad\x00Name", services.MESSAGES["invalid_name"].format(max=services.NAME_MAX)),
        ("role", "z", UNKNOWN_Z),
        ("level", "9", LEVEL),
        (
            "applications",
            ["crm", "payroll", "nope"],
            services.MESSAGES["unknown_application"].format(names="nope, payroll"),
        ),
    ],
)
def test_the_invite_form_enforces_every_field(field, value, message):
    assert refusal(InviteForm({**INVITE, field: value})) == message


def test_the_access_form_names_every_unknown_application():
    assert refusal(AccessForm({"applications": ["zeta", "crm", "alpha"]})) == (
        services.MESSAGES["unknown_application"].format(names="alpha, zeta")
    )
    assert AccessForm({}).is_valid()  # no application at all: revoke them all


def test_the_delete_form_bounds_the_typed_email():
    assert not DeleteForm({"confirm": "x" * 255}).is_valid()


@pytest.mark.parametrize(
    "needs, data, message",
    [
        (("application",), {}, services.MESSAGES["unknown_application"].format(names="(none)")),
        (
            ("application",),
            {"application": "payroll"},
            services.MESSAGES["unknown_application"].format(names="payroll"),
        ),
        (("role", "level"), {"role": "z", "level": "1"}, UNKNOWN_Z),
        (("role", "level"), {"role": "a", "level": "4"}, LEVEL),
    ],
)
def test_the_bulk_parameters_form_enforces_what_the_action_needs(needs, data, message):
    assert refusal(BulkParametersForm(data, needs=needs)) == message


def test_the_bulk_parameters_form_takes_only_what_the_action_needs():
    form = BulkParametersForm({"application": "crm", "role": "z"}, needs=bulk_actions.ACTIONS["grant"].needs)
    assert form.is_valid() and form.cleaned_data == {"application": "crm", "expires": None, "reason": ""}
    assert BulkParametersForm({"role": "z"}, needs=bulk_actions.ACTIONS["disable"].needs).is_valid()


def test_the_resume_form_knows_one_retry():
    assert ResumeForm({"retry": "failed"}).is_valid() and ResumeForm({}).is_valid()
    assert not ResumeForm({"retry": "everything"}).is_valid()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "Pay Roll"}, app_services.SAID["bad_name"]),
        ({"name": "p" * 49}, app_services.SAID["bad_name"]),
        ({"name": ""}, app_services.SAID["bad_name"]),
        ({"name": "payroll", "precedence": "-1"}, app_services.SAID["bad_precedence"].format(max=2**31 - 1)),
        ({"name": "payroll", "precedence": str(2**31)}, app_services.SAID["bad_precedence"].format(max=2**31 - 1)),
        ({"name": "payroll", "precedence": "first"}, app_services.SAID["bad_precedence"].format(max=2**31 - 1)),
        ({"name": "payroll", "role_arn": "arn:aws:iam::123:role/x"}, app_services.SAID["bad_arn"]),
        ({"name": "payroll", "description": "d" * 2049}, app_services.SAID["bad_description"].format(max=2048)),
    ],
)
def test_the_application_forms_enforce_name_lengths_and_ranges(data, message):
    assert refusal(NewApplicationForm(data)) == message
    if data.get("name") == "payroll":
        assert refusal(ApplicationForm(data)) == message


def test_the_application_form_passes_an_empty_precedence_as_none():
    form = ApplicationForm({"description": "Pay", "role_arn": "", "precedence": ""})
    assert form.is_valid() and form.cleaned_data == {
        "description": "Pay",
        "role_arn": "",
        "precedence": None,
        "reason": "",
    }
    assert not ApplicationDeleteForm({"confirm": "x" * 49}).is_valid()


def test_the_member_list_form_keeps_only_a_known_role_filter_and_a_page_number():
    form = MemberListForm({"role": "several", "page": "2"})
    assert form.is_valid() and form.cleaned_data == {"role": "several", "page": 2}
    assert not MemberListForm({"role": "z"}).is_valid() and not MemberListForm({"page": "0"}).is_valid()


# --- Through the screens: the refusal is shown, audited, and nothing changes ---------------------------------


def said(response) -> list[str]:
    """Return the messages left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_precedence_out_of_range_is_refused_by_the_update_screen_with_nothing_changed(admin_client, pool):
    billing = Application.objects.get(name="billing")
    with cognito.count_calls() as calls:
        response = admin_client.post(
            reverse("admin:accounts_application_update", args=[billing.pk]),
            {"description": "Changed", "precedence": str(2**31)},
        )
    assert said(response) == [app_services.SAID["bad_precedence"].format(max=2**31 - 1)]
    assert not calls and Application.objects.get(name="billing").description == billing.description
    event = AuditEvent.objects.get(action="application_update")
    assert (event.outcome, event.target) == (AuditEvent.FAILURE, "billing")


def test_an_unknown_retry_is_refused_by_the_resume_screen_with_nothing_changed(admin_client, admin_user, alice):
    job = bulk_actions.selection_job(
        actor=admin_user, action={"name": "disable"}, queryset=selectors.directory_entries().filter(sub=alice.sub)
    )
    jobs.job_start(actor=admin_user, job=job, background=False)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.INTERRUPTED)
    response = admin_client.post(reverse("admin:accounts_bulkjob_resume", args=[job.pk]), {"retry": "everything"})
    assert response.status_code == HTTPStatus.FOUND and len(said(response)) == 1
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.INTERRUPTED
    assert job.rows.get().state == BulkRow.PENDING
    assert list(AuditEvent.objects.filter(action="bulk_resume").values_list("target", "outcome")) == [
        (f"job {job.pk}", AuditEvent.FAILURE)
    ]


@pytest.mark.parametrize(
    "form_class", [InviteForm, DeleteForm, ApplicationForm, NewApplicationForm, ApplicationDeleteForm]
)
def test_no_text_input_lets_the_browser_cut_what_the_server_would_refuse(form_class):
    fields = [field for field in form_class() if isinstance(field.field, forms.CharField)]
    assert fields
    for field in fields:
        assert "maxlength" not in str(field), f"{form_class.__name__}.{field.name} lets the browser cut a value"


def test_the_invite_form_says_the_longest_name_and_email_the_server_accepts():
    form = InviteForm()
    assert form["name"].help_text == LONGEST.format(max=services.NAME_MAX)
    assert form["email"].help_text == LONGEST.format(max=services.EMAIL_MAX)


def test_the_invite_page_refuses_a_300_character_name_saying_the_limit(admin_client):
    response = admin_client.post(reverse("admin:accounts_directoryentry_add"), {**INVITE, "name": "n" * 300})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert services.MESSAGES["invalid_name"].format(max=services.NAME_MAX) in response.content.decode()
    assert not selectors.directory_entries().exists()
