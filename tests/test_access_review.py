"""Access reviews: the streamed CSV export, the dashboard's counts and chart, the users × applications matrix."""

import csv
import io
import tracemalloc
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.directory import reviews as access
from accounts.directory import services
from accounts.models import DirectoryEntry, DirectoryGrant
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:accounts_directoryentry_access_dashboard")
MATRIX = reverse("admin:accounts_directoryentry_access_matrix")
REVIEW = reverse("admin:accounts_directoryentry_access_review")


def review(client, query: str = "") -> list[dict]:
    """Download the access review and return its rows."""
    response = client.get(REVIEW + query)
    assert response.status_code == HTTPStatus.OK and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def people(pool, make_cognito_user, admin_user):
    """Users with roles and applications; two changed through the portal by the administrator."""
    made = {
        "amy": make_cognito_user("amy@example.com", role=("a", 1), apps=["billing", "crm"], name="Amy"),
        "ben": make_cognito_user("ben@example.com", role=("b", 2), apps=["crm"], name='=HYPERLINK("x")'),
        "cat": make_cognito_user("cat@example.com", role=None, apps=[], name="Cat"),
        "dan": make_cognito_user("dan@example.com", role=("c", 1), apps=["crm"], name="Dan"),
    }
    from accounts import cognito

    cognito.user_update_attributes(made["dan"].sub, {"custom:role_a": "2"})  # two roles: drift
    services.directory_sync(actor="test")
    services.access_grant(actor=admin_user, sub=made["cat"].sub, application="docs")
    services.role_change(actor=admin_user, sub=made["amy"].sub, role="b", level=3, shown="a1")
    return made


def test_the_review_lists_every_user_with_role_applications_and_last_change(admin_client, people):
    rows = {row["email"]: row for row in review(admin_client)}
    assert list(rows) == [
        "admin@example.com",
        "amy@example.com",
        "ben@example.com",
        "cat@example.com",
        "dan@example.com",
    ]
    amy = rows["amy@example.com"]
    assert (amy["status"], amy["enabled"], amy["role"], amy["level"], amy["applications"], amy["changed_by"]) == (
        "CONFIRMED",
        "yes",
        "b",
        "3",
        "billing;crm",
        "admin@example.com",
    )
    assert rows["cat@example.com"]["applications"] == "docs" and rows["cat@example.com"]["role"] == "none"
    assert rows["dan@example.com"]["role"] == "several"
    assert rows["ben@example.com"]["changed_by"] == "outside the portal"  # created in Cognito, not by the portal
    assert rows["ben@example.com"]["name"] == '\'=HYPERLINK("x")'  # neutralised against formula injection
    assert list(rows["amy@example.com"]) == access.REVIEW_COLUMNS


def test_the_review_of_one_application_lists_its_holders_only(admin_client, people):
    assert [row["email"] for row in review(admin_client, "?application=crm")] == [
        "amy@example.com",
        "ben@example.com",
        "dan@example.com",
    ]
    assert admin_client.get(REVIEW + "?application=payroll").status_code == HTTPStatus.BAD_REQUEST


@pytest.mark.parametrize(
    "value, shown",
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_neutralised(value, shown):
    from accounts.audit.csvexport import neutralise

    assert neutralise(value) == shown


def seed_index(count: int) -> None:
    """Fill the index with `count` users, each holding two applications."""
    now = timezone.now()
    DirectoryEntry.objects.bulk_create(
        [
            DirectoryEntry(
                sub=f"sub-{n:06d}",
                username=f"sub-{n:06d}",
                email=f"user{n:06d}@example.com",
                name=f"User {n}",
                status="CONFIRMED",
                role="abc"[n % 3],
                level=1 + n % 3,
                synced_at=now,
                modified=now - timedelta(days=1),
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    DirectoryGrant.objects.bulk_create(
        [DirectoryGrant(entry_id=f"sub-{n:06d}", application=app) for n in range(count) for app in ("crm", "hr")],
        batch_size=2000,
    )


def export_peak(client) -> tuple[int, int]:
    """Stream the whole review; return (rows, peak bytes allocated meanwhile)."""
    tracemalloc.start()
    try:
        response = client.get(REVIEW)
        lines = sum(1 for _ in response.streaming_content)
        return lines - 1, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def queries(client, url: str) -> list[str]:
    """Return the SQL a GET of url runs, its streamed body included."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    return [query["sql"] for query in captured.captured_queries]


def test_the_export_streams_one_query_and_its_memory_does_not_grow_with_users(admin_client, pool):
    seed_index(100)
    export_peak(admin_client)  # warm up: templates, query compilation, imports
    small_rows, small_peak = export_peak(admin_client)
    small_queries = queries(admin_client, REVIEW)
    assert sum("accounts_directoryentry" in sql for sql in small_queries) == 1  # every row from one query
    DirectoryEntry.objects.all().delete()
    seed_index(3000)
    large_rows, large_peak = export_peak(admin_client)
    assert (small_rows, large_rows) == (100, 3000)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert len(queries(admin_client, REVIEW)) == len(small_queries)


# --- Dashboard and matrix ---------------------------------------------------------------------------


def test_the_dashboard_counts_roles_per_application_and_links_the_users_needing_attention(admin_client, people):
    assert access.counts_per_application()["crm"] == {"b": 2, "several": 1}
    assert access.summary() == {"users": 5, "no_application": 1, "no_role": 2, "several_roles": 1}
    page = admin_client.get(DASHBOARD).content.decode()
    directory = user_url("changelist")
    assert f'href="{directory}?application=none" id="no-application"><b id="count-no-application">1</b>' in page
    assert f'href="{directory}?role=none" id="no-role"><b id="count-no-role">2</b>' in page
    assert f'href="{directory}?role=several" id="several-roles"><b id="count-several-roles">1</b>' in page
    assert f'<a href="{directory}?application=crm&amp;role=b">2</a>' in page
    assert page.count('<rect x="') == 4  # one per non-empty segment: billing b; crm b, several; docs none
    assert "<script" not in page.split('id="role-chart"')[1].split("</svg>")[0]
    assert f'href="{REVIEW}?application=crm"' in page


def test_the_links_open_the_directory_filtered_on_those_users(admin_client, people):
    listed = admin_client.get(user_url("changelist") + "?application=none").context["cl"].result_list
    assert [entry.email for entry in listed] == ["admin@example.com"]
    listed = admin_client.get(user_url("changelist") + "?role=several").context["cl"].result_list
    assert [entry.email for entry in listed] == ["dan@example.com"]


def test_the_matrix_shows_users_by_applications_with_their_role_filtered_and_paginated(admin_client, people):
    response = admin_client.get(MATRIX + "?application=crm")
    lines = response.context["lines"]
    assert [(line["entry"].email, sorted(line["held"])) for line in lines] == [
        ("amy@example.com", ["billing", "crm"]),
        ("ben@example.com", ["crm"]),
        ("dan@example.com", ["crm"]),
    ]
    page = response.content.decode()
    assert page.count('<span class="held" title="crm">') == 3 and '<span class="held" title="billing">B3<' in page
    assert [line["entry"].email for line in admin_client.get(MATRIX + "?role=b&q=Am").context["lines"]] == [
        "amy@example.com"
    ]
    seed_index(120)
    second = admin_client.get(MATRIX + "?application=hr&page=2")
    assert len(second.context["lines"]) == 50 and "page 2 of 3" in second.content.decode()


def test_the_matrix_reads_a_page_in_a_fixed_number_of_queries(admin_client, pool):
    seed_index(3)
    few = len(queries(admin_client, MATRIX))
    DirectoryEntry.objects.all().delete()
    seed_index(200)
    assert len(queries(admin_client, MATRIX)) == few


@pytest.mark.parametrize(
    "persona, dashboard, export",
    [("anonymous", 302, 302), ("nonstaff", 403, 403), ("helpdesk", 200, 403), ("admin", 200, 200)],
)
def test_who_may_see_the_dashboard_and_export_the_review(persona, dashboard, export, persona_client):
    assert persona_client.get(DASHBOARD).status_code == dashboard
    assert persona_client.get(MATRIX).status_code == dashboard
    assert persona_client.get(REVIEW).status_code == export
    assert persona_client.post(DASHBOARD).status_code in (302, 403, 405)


@pytest.mark.parametrize("persona, imports", [("admin", True), ("helpdesk", False)])
def test_the_home_page_and_nav_link_the_dashboard_bulk_jobs_and_the_import(persona, imports, persona_client):
    home = persona_client.get("/").content.decode()
    assert f'href="{DASHBOARD}" id="home-access"' in home and 'id="home-bulk"' in home
    assert f'<a href="{DASHBOARD}">Access</a>' in home
    assert ('id="home-import"' in home) is imports
