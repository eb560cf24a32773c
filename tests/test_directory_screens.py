"""The directory list, the user page and the audit screen."""

import csv
import io
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.directory import services
from accounts.models import AuditEvent, DirectoryEntry, DirectoryGrant
from tests.conftest import USER_PASSWORD
from tests.faults import cognito_fault
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db


def listed(client, query: str = "") -> list[str]:
    """Return the emails the directory page lists for a query string, in order."""
    page = client.get(user_url("changelist") + query).content.decode()
    return [cell.split("</a>")[0].rsplit(">", 1)[-1] for cell in page.split('<th class="field-email">')[1:]]


def seed(count: int, prefix: str = "user") -> None:
    """Put `count` rows, each holding one application, straight into the index."""
    now = timezone.now()
    DirectoryEntry.objects.bulk_create(
        [
            DirectoryEntry(
                sub=f"{prefix}-{n:05}",
                username=f"{prefix}-{n:05}",
                email=f"{prefix}{n:05}@example.com",
                name=f"{prefix} {n:05}",
                name_key=f"{prefix} {n:05}",
                status="CONFIRMED",
                role="a",
                level=1,
                synced_at=now,
            )
            for n in range(count)
        ]
    )
    DirectoryGrant.objects.bulk_create(
        [DirectoryGrant(entry_id=f"{prefix}-{n:05}", application="crm") for n in range(count)]
    )


def page_queries(client, query: str = "") -> int:
    """Return how many SQL queries one directory page takes."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(user_url("changelist") + query).status_code == HTTPStatus.OK
    return len(queries)


@pytest.fixture
def people(pool, make_cognito_user):
    """Five users in Cognito and in the index (bob disabled, boss an administrator)."""
    made = {
        "alice": make_cognito_user("alice@example.com", role=("a", 1), apps=["billing", "crm"], name="Alice Liddell"),
        "bob": make_cognito_user("bob@example.com", role=("b", 2), apps=["crm"], name="Bob Builder"),
        "carol": make_cognito_user("carol@example.com", role=("c", 3), apps=[], name="Zoë Carol"),
        "dave": make_cognito_user("dave@example.org", role=("b", 1), apps=["hr"], name="Alicia Dave"),
        "boss": make_cognito_user("boss@example.com", role=None, staff="admin", name="The Boss"),
    }
    cognito.user_disable("bob@example.com")
    services.directory_sync(actor="test")
    return made


# --- The list -----------------------------------------------------------------------------------


def test_list_page_reads_only_the_index(admin_client, people):
    with cognito.count_calls() as calls:
        response = admin_client.get(user_url("changelist"))
    assert response.status_code == HTTPStatus.OK
    assert not calls
    assert listed(admin_client) == [
        "admin@example.com",
        "alice@example.com",
        "bob@example.com",
        "boss@example.com",
        "carol@example.com",
        "dave@example.org",
    ]
    page = response.content.decode()
    assert "billing, crm" in page and "Alice Liddell" in page and "Administrator" in page


def test_list_page_queries_do_not_grow_with_rows(admin_client, pool):
    seed(3)
    few = page_queries(admin_client)
    seed(47, prefix="more")
    assert page_queries(admin_client) == few
    assert page_queries(admin_client, "?application=crm&role=a&q=more") == few


@pytest.mark.parametrize(
    "query, expected",
    [
        ("?q=ali", ["alice@example.com", "dave@example.org"]),  # email or name starting with it
        ("?q=ALICE", ["alice@example.com"]),  # case-insensitive
        ("?q=lice", []),  # a prefix, not a substring
        ("?q=zoë", ["carol@example.com"]),
        ("?q=dave@example.org", ["dave@example.org"]),
        ("?role=b", ["bob@example.com", "dave@example.org"]),
        ("?role=b&level=2", ["bob@example.com"]),
        ("?role=none", ["admin@example.com", "boss@example.com"]),
        ("?level=3", ["carol@example.com"]),
        ("?application=crm", ["alice@example.com", "bob@example.com"]),
        ("?application=crm&role=a", ["alice@example.com"]),
        ("?enabled__exact=0", ["bob@example.com"]),
        ("?status=CONFIRMED&q=c", ["carol@example.com"]),
        ("?staff=admin", ["admin@example.com", "boss@example.com"]),
        (
            "?o=-1",
            [
                "dave@example.org",
                "carol@example.com",
                "boss@example.com",
                "bob@example.com",
                "alice@example.com",
                "admin@example.com",
            ],
        ),
        ("?o=2&q=b", ["bob@example.com", "boss@example.com"]),  # by name: Bob Builder, The Boss
    ],
)
def test_search_filter_and_sort(query, expected, admin_client, people):
    assert listed(admin_client, query) == expected


def test_pagination(admin_client, pool):
    seed(120)
    assert len(listed(admin_client)) == 50
    assert listed(admin_client, "?p=3") == [f"user{n:05}@example.com" for n in range(100, 120)]


def test_directory_freshness_and_refresh_now(admin_client, helpdesk_client, people, make_cognito_user):
    page = admin_client.get(user_url("changelist")).content.decode()
    assert "synced <time" in page and 'id="refresh-directory"' in page
    make_cognito_user("eve@example.com")
    response = helpdesk_client.post(user_url("refresh"))
    assert response["Location"] == reverse("admin:accounts_directoryentry_sync")  # queued, not run here
    assert "eve@example.com" not in listed(helpdesk_client)
    assert AuditEvent.objects.filter(action="directory_sync_request", actor="desk@example.com").exists()


def test_refresh_selected_rows_action(admin_client, people):
    cognito.user_update_attributes(people["carol"].sub, {"name": "Carol C."})
    cognito.user_delete(people["dave"].sub)
    with cognito.count_calls() as calls:
        admin_client.post(
            user_url("changelist"),
            {"action": "refresh_selected", "_selected_action": [people["carol"].sub, people["dave"].sub]},
        )
    assert calls["AdminGetUser"] == 2
    assert DirectoryEntry.objects.get(sub=people["carol"].sub).name == "Carol C."
    assert not DirectoryEntry.objects.filter(sub=people["dave"].sub).exists()


# --- The user page ------------------------------------------------------------------------------


def test_user_page_is_live_in_two_calls_and_refreshes_the_row(admin_client, people):
    alice = people["alice"]
    cognito.user_add_to_group(alice.sub, "app-hr")  # changed outside the portal since the last sync
    with cognito.count_calls() as calls:
        response = admin_client.get(user_url("change", alice.sub))
    assert dict(calls) == {"AdminGetUser": 1, "AdminListGroupsForUser": 1}
    page = response.content.decode()
    assert '<td id="user-applications">billing, crm, hr</td>' in page
    assert '<td id="user-role">A1</td>' in page and '<td id="user-mfa">Not set up</td>' in page
    assert "custom:role_a" in page and "CONFIRMED" in page
    row = DirectoryEntry.objects.get(sub=alice.sub)
    assert sorted(row.grants.values_list("application", flat=True)) == ["billing", "crm", "hr"]


def test_user_page_shows_mfa(admin_client, people):
    session = cognito.auth_password("alice@example.com", USER_PASSWORD)
    cognito.token_associate(access_token=session.access_token)
    cognito.token_verify("123456", access_token=session.access_token)
    cognito.user_set_totp_preference(people["alice"].sub, enabled=True)
    page = admin_client.get(user_url("change", people["alice"].sub)).content.decode()
    assert '<td id="user-mfa">Authenticator app (TOTP)</td>' in page


def test_user_page_history_shows_only_that_user(admin_client, admin_user, people):
    services.user_sign_out(actor=admin_user, sub=people["alice"].sub)
    services.user_sign_out(actor=admin_user, sub=people["carol"].sub)
    page = admin_client.get(user_url("change", people["alice"].sub)).content.decode()
    history = page[page.index('id="history"') :]
    assert history.count("user_sign_out") == 1 and "admin@example.com" in history


def test_an_unknown_users_page_is_the_404_page(admin_client, pool):
    response = admin_client.get(user_url("change", "does-not-exist"))
    assert response.status_code == HTTPStatus.NOT_FOUND
    page = response.content.decode()
    assert "This page does not exist" in page and "exists in Cognito" not in page


def test_user_page_for_a_sub_cognito_calls_malformed_simulated(admin_client, alice):
    with cognito_fault("InvalidParameterException", operations={"AdminGetUser"}):
        response = admin_client.get(user_url("change", alice.sub))
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not DirectoryEntry.objects.filter(sub=alice.sub).exists()


# --- The audit screen ---------------------------------------------------------------------------


@pytest.fixture
def events(admin_user, pool):
    """A few audit events from different actors, actions and outcomes."""
    audit_record(
        actor=admin_user,
        action="role_change",
        target="alice@example.com",
        target_sub="s-alice",
        before={"role": "a1"},
        after={"role": "b2"},
    )
    audit_record(actor="manage.py cognito_sync", action="directory_sync", after={"added": 3})
    audit_record(
        actor=admin_user,
        action="user_delete",
        outcome="failure",
        target="=cmd|' /C calc'!A0",
        target_sub="s-evil",
        error="+SUM(1)",
    )
    audit_record(
        actor="desk@example.com", action="access_set", outcome="denied", target="bob@example.com", target_sub="s-bob"
    )


def audit_rows(client, query: str = "") -> list[dict]:
    """Return the CSV export for a query string, as dicts."""
    response = client.get(reverse("admin:accounts_auditevent_export") + query)
    assert response.status_code == HTTPStatus.OK and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    "query, actions",
    [
        ("", ["access_set", "user_delete", "directory_sync", "role_change"]),
        ("?actor=admin@", ["user_delete", "role_change"]),
        ("?target=alice", ["role_change"]),
        ("?target=s-bob", ["access_set"]),
        ("?action=directory_sync", ["directory_sync"]),
        ("?outcome=denied", ["access_set"]),
        ("?outcome=failure&actor=admin@example.com", ["user_delete"]),
        ("?from=2000-01-01&to=2999-12-31", ["access_set", "user_delete", "directory_sync", "role_change"]),
        ("?from=2999-01-01", []),
        ("?to=2000-01-01", []),
    ],
)
def test_audit_filters_apply_to_screen_and_export(query, actions, admin_client, events):
    assert [row["action"] for row in audit_rows(admin_client, query)] == actions
    page = admin_client.get(reverse("admin:accounts_auditevent_changelist") + query).content.decode()
    assert page.count('<td class="field-action">') == len(actions)


def test_audit_export_neutralises_formulas(admin_client, events):
    row = next(r for r in audit_rows(admin_client) if r["action"] == "user_delete")
    assert row["target"] == "'=cmd|' /C calc'!A0" and row["error"] == "'+SUM(1)"
    change = next(r for r in audit_rows(admin_client) if r["action"] == "role_change")
    assert change["before"] == '{"role": "a1"}' and change["after"] == '{"role": "b2"}'


def test_audit_export_link_keeps_the_filters(admin_client, events):
    page = admin_client.get(reverse("admin:accounts_auditevent_changelist") + "?outcome=denied").content.decode()
    assert f'href="{reverse("admin:accounts_auditevent_export")}?outcome=denied"' in page


def test_a_bad_date_is_ignored_with_a_message(admin_client, events):
    page = admin_client.get(reverse("admin:accounts_auditevent_changelist") + "?from=yesterday").content.decode()
    assert "Ignored the from (YYYY-MM-DD) date &#x27;yesterday&#x27;: use YYYY-MM-DD." in page
    assert page.count('<td class="field-action">') == 4


def test_audit_events_cannot_be_added_changed_or_deleted(admin_client, events):
    event = AuditEvent.objects.get(action="role_change")
    change_url = reverse("admin:accounts_auditevent_change", args=[event.pk])
    detail = admin_client.get(change_url)
    assert detail.status_code == HTTPStatus.OK and b'name="_save"' not in detail.content
    assert admin_client.post(change_url, {"actor": "someone else"}).status_code == HTTPStatus.FORBIDDEN
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == HTTPStatus.FORBIDDEN
    delete_url = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    listing = admin_client.post(
        reverse("admin:accounts_auditevent_changelist"), {"action": "delete_selected", "_selected_action": [event.pk]}
    )
    assert AuditEvent.objects.filter(pk=event.pk, actor="admin@example.com").exists()
    assert listing.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_admin_pages_sign_out_through_the_portal(admin_client, pool):
    page = admin_client.get(user_url("changelist")).content.decode()
    assert f'action="{reverse("accounts:logout")}"' in page and f'href="{reverse("accounts:account")}"' in page
    home = admin_client.get(reverse("home")).content.decode()
    assert f'href="{user_url("changelist")}"' in home
