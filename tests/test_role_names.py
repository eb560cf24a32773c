"""Role and level names: configured with the roles, validated at start-up, shown wherever a role appears."""

import csv
import io
from http import HTTPStatus

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils.html import escape

from accounts import cognito
from accounts.audit import views as audit_views
from accounts.bulk.forms import BulkActionForm
from accounts.directory import services
from accounts.directory.forms import RoleForm
from accounts.models import AuditEvent
from accounts.rules import roles
from portal.settings.base import env_names
from tests.support.staff import user_url
from tests.test_settings import django_process

pytestmark = pytest.mark.django_db

EDITOR_FULL = "Editor · Full (B3)"
VIEWER_BASIC = "Viewer · Basic (A1)"


@pytest.fixture
def named(settings):
    """Name the roles a, b, c and the levels 1 to 3, as PORTAL_ROLES and PORTAL_ROLE_LEVELS would."""
    settings.PORTAL_ROLE_NAMES = {"a": "Viewer", "b": "Editor", "c": "Manager"}
    settings.PORTAL_ROLE_LEVEL_NAMES = {1: "Basic", 2: "Standard", 3: "Full"}


@pytest.fixture
def people(named, pool, make_cognito_user, admin_user):
    """Amy holds A1 with billing, Bea B3 with billing and crm; both in the directory."""
    made = {
        "amy": make_cognito_user("amy@example.com", role=("a", 1), apps=["billing"], name="Amy"),
        "bea": make_cognito_user("bea@example.com", role=("b", 3), apps=["billing", "crm"], name="Bea"),
    }
    services.directory_sync(actor="test")
    return made


def csv_rows(response) -> list[dict]:
    """Return a streamed CSV response's rows."""
    assert response.status_code == HTTPStatus.OK
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- Settings ---------------------------------------------------------------------------------------------


def test_names_are_read_in_order_with_or_without_a_display_name(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_ROLES", "a=Viewer, b ,c = Manager")
    assert env_names("PORTAL_TEST_ROLES", "x", key=r"[a-z]", what="role name") == {
        "a": "Viewer",
        "b": "",
        "c": "Manager",
    }


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("a=Viewer,a=Editor", "given twice"),
        ("a=Viewer,b=viewer", "the name 'viewer' is given twice"),
        ("a=", "needs a name after '='"),
        ("a=" + "x" * 41, "at most 40 printable characters"),
        ("A=Viewer", "'A' is not a valid role name"),
        (" , ", "must name at least one role name"),
    ],
)
def test_malformed_names_are_refused_naming_the_problem(monkeypatch, raw, problem):
    monkeypatch.setenv("PORTAL_TEST_ROLES", raw)
    with pytest.raises(ImproperlyConfigured, match=f"PORTAL_TEST_ROLES.*{problem}"):
        env_names("PORTAL_TEST_ROLES", "x", key=r"[a-z][a-z0-9_]{0,14}", what="role name")


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"PORTAL_ROLES": "a=Viewer,b=Viewer"}, "PORTAL_ROLES: the name 'Viewer' is given twice"),
        ({"PORTAL_ROLE_LEVELS": "1=Basic,4=Beyond"}, "PORTAL_ROLE_LEVELS names level 4, above PORTAL_ROLE_MAX_LEVEL"),
        ({"PORTAL_ROLE_LEVELS": "1"}, "PORTAL_ROLE_LEVELS: level '1' needs a name"),
        ({"PORTAL_ROLE_LEVELS": "one=Basic"}, "PORTAL_ROLE_LEVELS: 'one' is not a valid level"),
    ],
)
def test_start_up_stops_on_malformed_role_or_level_names(tmp_path, variables, problem):
    result = django_process(tmp_path, **variables)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr
    assert problem in result.stderr


def test_start_up_accepts_named_roles_and_levels(tmp_path):
    result = django_process(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.PORTAL_ROLES, s.PORTAL_ROLE_NAMES, s.PORTAL_ROLE_LEVEL_NAMES)",
        PORTAL_ROLES="a=Viewer,b=Editor,c",
        PORTAL_ROLE_LEVELS="1=Basic,3=Full",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("['a', 'b', 'c'] {'a': 'Viewer', 'b': 'Editor'} {1: 'Basic', 3: 'Full'}")


# --- The one label --------------------------------------------------------------------------------------


def test_the_label_names_role_and_level_and_keeps_the_letters(named, settings):
    assert roles.role_label("b", 3) == EDITOR_FULL
    assert roles.Role("a", 1).label == VIEWER_BASIC
    settings.PORTAL_ROLE_LEVEL_NAMES = {1: "Basic"}
    assert roles.role_label("c", 2) == "Manager · level 2 (C2)"
    settings.PORTAL_ROLE_NAMES = {}
    assert roles.role_label("c", 1) == "C · Basic (C1)"
    assert roles.role_label("c", 2) == "C2"  # nothing named: the letters alone, as before names existed


def test_stored_keys_and_index_values_get_the_same_label(named):
    assert [roles.key_label(key) for key in ("b3", "none", "several", "zz9")] == [
        EDITOR_FULL,
        "None",
        "Several (drift)",
        "zz9",
    ]
    assert roles.index_label("", 0) == "None" and roles.index_label("*", 0) == "Several (drift)"


def test_choices_show_the_names_and_submit_the_letters(named):
    assert roles.role_choices() == [("a", "Viewer (A)"), ("b", "Editor (B)"), ("c", "Manager (C)")]
    assert roles.level_choices() == [("1", "1 · Basic"), ("2", "2 · Standard"), ("3", "3 · Full")]
    form = RoleForm()
    assert list(form.fields["role"].choices) == roles.role_choices()
    assert str(form.fields["level"].help_text) == "1 to 3 (1 · Basic, 2 · Standard, 3 · Full)"
    bar = BulkActionForm()
    assert ("b", "Editor (B)") in list(bar.fields["role"].widget.choices)
    assert ("3", "3 · Full") in list(bar.fields["level"].widget.choices)


# --- Every place a role appears ----------------------------------------------------------------------------


def test_the_directory_list_and_its_filters_show_role_names(admin_client, people):
    page = admin_client.get(user_url("changelist")).content.decode()
    assert escape(VIEWER_BASIC) in page and escape(EDITOR_FULL) in page
    assert "Editor (B)</a>" in page and "3 · Full</a>" in page  # the role and level filters
    filtered = admin_client.get(user_url("changelist"), {"role": "b"})
    assert [entry.email for entry in filtered.context["cl"].result_list] == ["bea@example.com"]


def test_the_user_page_and_its_role_form_show_role_names(admin_client, people):
    page = admin_client.get(user_url("change", people["bea"].sub)).content.decode()
    assert f'<td id="user-role">{escape(EDITOR_FULL)}</td>' in page
    assert '<option value="c">Manager (C)</option>' in page
    assert escape("1 · Basic, 2 · Standard, 3 · Full") in page


def test_a_role_change_says_the_new_role_by_name_and_writes_the_letters(admin_client, people):
    amy = people["amy"].sub
    response = admin_client.post(user_url("role", amy), {"role": "b", "level": "3", "shown": "a1"}, follow=True)
    (message,) = [str(message) for message in response.context["messages"]]
    assert message.startswith(f"Role changed to {EDITOR_FULL}. The user was signed out everywhere")
    assert cognito.user_get(amy).attributes["custom:role_b"] == "3"
    assert AuditEvent.objects.get(action="role_change").after["role"] == "b3"


def test_the_matrix_and_its_filter_show_role_names(admin_client, people):
    page = admin_client.get(reverse("admin:accounts_directoryentry_access_matrix")).content.decode()
    assert page.count(f'<span class="held" title="crm">{escape(EDITOR_FULL)}</span>') == 1
    assert '<option value="b">Editor (B)</option>' in page and '<option value="none">None</option>' in page


def test_the_dashboard_shows_role_names(admin_client, people):
    page = admin_client.get(reverse("admin:accounts_directoryentry_access_dashboard")).content.decode()
    assert "<th>Viewer (A)</th><th>Editor (B)</th><th>Manager (C)</th><th>None</th>" in page
    assert "billing: 1 with role Editor (B)" in page


def test_the_access_review_export_has_a_label_beside_the_stored_role(admin_client, people):
    rows = {
        row["email"]: row for row in csv_rows(admin_client.get(reverse("admin:accounts_directoryentry_access_review")))
    }
    assert (rows["bea@example.com"]["role"], rows["bea@example.com"]["level"]) == ("b", "3")
    assert rows["bea@example.com"]["role_label"] == EDITOR_FULL
    assert rows["amy@example.com"]["role_label"] == VIEWER_BASIC


def test_the_members_export_has_a_label_beside_the_stored_role(admin_client, people):
    from accounts.models import Application

    billing = Application.objects.get(name="billing")
    rows = csv_rows(admin_client.get(reverse("admin:accounts_application_members_csv", args=[billing.pk])))
    assert {row["email"]: (row["role"], row["role_label"]) for row in rows} == {
        "amy@example.com": ("a", VIEWER_BASIC),
        "bea@example.com": ("b", EDITOR_FULL),
    }


def test_the_audit_list_event_page_and_export_name_the_roles_changed(admin_client, admin_user, people):
    services.role_change(actor=admin_user, sub=people["amy"].sub, role="b", level=3, shown="a1")
    event = AuditEvent.objects.get(action="role_change")
    change = f"{VIEWER_BASIC} → {EDITOR_FULL}"
    assert audit_views.role_change(event) == change
    listing = admin_client.get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    assert escape(change) in listing
    detail = admin_client.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).content.decode()
    assert escape(change) in detail
    exported = csv_rows(admin_client.get(reverse("admin:accounts_auditevent_export")))
    assert [row["role_change"] for row in exported if row["action"] == "role_change"] == [change]


def test_a_bulk_set_role_is_labelled_by_name(admin_client, people):
    data = {
        "action": "bulk_set_role",
        "index": "0",
        "select_across": "0",
        "_selected_action": [people["amy"].sub],
        "role": "c",
        "level": "2",
    }
    response = admin_client.post(user_url("changelist"), data, follow=True)
    assert "Set role Manager · Standard (C2): 1 done, 0 failed of 1." in [
        str(message) for message in response.context["messages"]
    ]
    assert cognito.user_get(people["amy"].sub).attributes["custom:role_c"] == "2"
