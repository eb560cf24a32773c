"""Ends given in bulk: the invitation, the directory's bulk grant, and the CSV import's `expires` column."""

from datetime import datetime, timedelta
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts import cognito
from accounts.bulk import jobs
from accounts.models import AccessEnd, AuditEvent, BulkRow, DirectoryEntry
from accounts.rules import ends as end_rules
from tests.bulk import csv_bytes, outcomes, preview, run_worker
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db

HEADER = "email,name,role,level,applications,expires\n"


def open_ends() -> dict[tuple[str, str], datetime]:
    """Return {(email, application): end} of the open grant ends, read with the directory's emails."""
    emails = dict(DirectoryEntry.objects.values_list("sub", "email"))
    rows = AccessEnd.objects.filter(state=AccessEnd.OPEN, kind=AccessEnd.GRANT)
    return {(emails[end.sub], end.application): end.ends_at for end in rows}


def test_an_invitation_with_applications_until_an_end(admin_client):
    data = {
        "email": "temp@example.com",
        "name": "Temp Worker",
        "role": "b",
        "level": "1",
        "applications": ["crm", "docs"],
        "expires": "2030-03-31",
    }
    response = admin_client.post(user_url("add"), data)
    assert response.status_code == HTTPStatus.FOUND
    end = datetime.fromisoformat("2030-04-01T00:00:00+00:00")
    assert open_ends() == {("temp@example.com", "crm"): end, ("temp@example.com", "docs"): end}
    assert AuditEvent.objects.get(action="user_invite").after["expires"] == end.isoformat()


def test_an_invitation_with_an_end_in_the_past_creates_nobody(admin_client):
    data = {"email": "late@example.com", "name": "Late", "role": "b", "level": "1", "applications": ["crm"]}
    response = admin_client.post(user_url("add"), {**data, "expires": "2001-01-01"})
    assert response.status_code == HTTPStatus.BAD_REQUEST and "is not in the future" in response.content.decode()
    with pytest.raises(cognito.UserNotFound):
        cognito.user_get("late@example.com")


def test_a_bulk_grant_until_an_end(admin_client, make_cognito_user):
    subs = [index_user(make_cognito_user(f"p{n}@example.com", apps=["crm"])).sub for n in range(3)]
    data = {
        "action": "bulk_grant",
        "index": "0",
        "select_across": "0",
        "_selected_action": subs,
        "application": "docs",
        "expires": "14 days",
    }
    response = admin_client.post(user_url("changelist"), data)
    assert response.status_code == HTTPStatus.FOUND
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Grant docs until ") and message.endswith(": 3 done, 0 failed of 3.")
    ends = open_ends()
    assert sorted(ends) == [(f"p{n}@example.com", "docs") for n in range(3)]
    assert abs(next(iter(ends.values())) - (timezone.now() + timedelta(days=14))) < timedelta(minutes=1)
    assert all("app-docs" in cognito.user_groups(sub) for sub in subs)


def test_a_bulk_grant_with_a_malformed_end_changes_nothing(admin_client, make_cognito_user):
    sub = index_user(make_cognito_user("p@example.com", apps=["crm"])).sub
    data = {"action": "bulk_grant", "index": "0", "select_across": "0", "_selected_action": [sub]}
    response = admin_client.post(user_url("changelist"), {**data, "application": "docs", "expires": "soonish"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [end_rules.END_MALFORMED.format(zone="UTC")]
    assert cognito.user_groups(sub) == ["app-crm"] and not AccessEnd.objects.exists()


def test_an_import_with_ends_per_line_and_per_application(admin_user, alice):
    data = csv_bytes(
        "new@example.com,New Person,b,2,crm;hr,2030-06-30",
        "alice@example.com,Alice Liddell,a,1,billing;docs,docs=30 days",
        header=HEADER,
    )
    job = preview(admin_user, data)
    details = {row.email: row.detail for row in job.rows.all()}
    assert "crm until 2030-07-01 00:00 UTC" in details["new@example.com"]
    assert details["alice@example.com"].startswith("docs until ")
    jobs.job_start(actor=admin_user, job=job)
    run_worker()
    assert outcomes(job)["new@example.com"][0] == BulkRow.CREATED
    assert outcomes(job)["alice@example.com"][0] == BulkRow.UPDATED
    ends = open_ends()
    june = datetime.fromisoformat("2030-07-01T00:00:00+00:00")
    assert ends[("new@example.com", "crm")] == june and ends[("new@example.com", "hr")] == june
    assert ("alice@example.com", "billing") not in ends and ("alice@example.com", "docs") in ends
    assert sorted(cognito.user_groups("alice@example.com")) == ["app-billing", "app-docs"]


def test_the_same_import_again_changes_nothing(admin_user, alice):
    data = csv_bytes("alice@example.com,Alice Liddell,a,1,billing,2030-06-30", header=HEADER)
    first = preview(admin_user, data)
    jobs.job_start(actor=admin_user, job=first)
    run_worker()
    again = preview(admin_user, data)
    assert [(row.plan, row.detail) for row in again.rows.all()] == [(BulkRow.UNCHANGED, "")]


@pytest.mark.parametrize(
    "cell, message",
    [
        ("crm=30 days", end_rules.END_NOT_GRANTED.format(names="crm")),
        ("portal-admins=30 days", end_rules.END_ON_STAFF.format(group="portal-admins")),
        ("2001-01-01", "The end 2001-01-02 00:00 UTC is not in the future."),
        ("someday", end_rules.END_MALFORMED.format(zone="UTC")),
    ],
)
def test_an_import_line_with_a_bad_end_is_refused_and_applies_nothing(cell, message, admin_user, alice):
    job = preview(admin_user, csv_bytes(f"alice@example.com,Alice Liddell,a,1,billing;docs,{cell}", header=HEADER))
    (row,) = job.rows.all()
    assert row.plan == BulkRow.ERROR and message in row.detail
    assert sorted(cognito.user_groups("alice@example.com")) == ["app-billing"]
