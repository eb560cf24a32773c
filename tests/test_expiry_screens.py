"""The screens of access that ends: the user page's forms (grant until, move or remove the end, a temporary
role), what the pages show, and the refusals that change nothing."""

import csv
import io
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts import cognito
from accounts.directory import services
from accounts.models import AccessEnd, Application, AuditEvent
from accounts.rules import ends as end_rules
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db


def said(response) -> list[str]:
    """Return the messages the response's request left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_grant_until_a_date_shows_the_end_on_the_user_page_in_the_configured_zone(admin_client, alice, settings):
    settings.TIME_ZONE = "Europe/Paris"
    response = admin_client.post(user_url("access_until", alice.sub), {"application": "crm", "expires": "2030-06-30"})
    assert response.status_code == HTTPStatus.FOUND
    assert said(response) == ["Granted crm until 2030-07-01 00:00 Europe/Paris."]
    assert "app-crm" in cognito.user_groups(alice.sub)
    end = AccessEnd.objects.get(sub=alice.sub)
    assert end.ends_at.isoformat() == "2030-06-30T22:00:00+00:00"  # stored in UTC
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    assert "crm until" in page and "2030-07-01 00:00 Europe/Paris" in page
    assert "Times are stored in UTC and shown in Europe/Paris." in page
    assert "granted crm until 2030-07-01 00:00 Europe/Paris" in page  # the audit history's words


@pytest.mark.parametrize(
    "data, message",
    [
        ({"application": "crm", "expires": "next tuesday"}, end_rules.END_MALFORMED.format(zone="UTC")),
        ({"application": "crm", "expires": "2001-01-01"}, "The end 2001-01-02 00:00 UTC is not in the future."),
        ({"application": "portal-admins", "expires": "3 days"}, end_rules.END_ON_STAFF.format(group="portal-admins")),
        ({"application": "nope", "expires": "3 days"}, "Unknown application: nope."),
    ],
)
def test_bad_ends_are_refused_with_nothing_changed(data, message, admin_client, alice):
    response = admin_client.post(user_url("access_until", alice.sub), data)
    assert said(response)[0].startswith(message.split(" Nothing")[0])
    assert sorted(cognito.user_groups(alice.sub)) == ["app-billing"] and not AccessEnd.objects.exists()
    event = AuditEvent.objects.get(action="access_grant")
    assert event.outcome == AuditEvent.FAILURE and event.target_sub == alice.sub


def test_move_then_remove_the_end(admin_client, alice, admin_user):
    admin_client.post(user_url("access_until", alice.sub), {"application": "crm", "expires": "3 days"})
    response = admin_client.post(
        user_url("access_end", alice.sub), {"application": "crm", "expires": "2030-01-01 12:00"}
    )
    assert said(response)[-1] == "crm now ends 2030-01-01 12:00 UTC."
    response = admin_client.post(user_url("access_end", alice.sub), {"application": "crm", "remove": "on"})
    assert said(response)[-1] == "crm no longer ends: the grant is permanent."
    assert not AccessEnd.objects.filter(state=AccessEnd.OPEN).exists()
    assert [e.after["expires"] for e in AuditEvent.objects.filter(action="access_extend").order_by("id")] == [
        "2030-01-01T12:00:00+00:00",
        None,
    ]


def test_a_temporary_role_from_the_user_page(admin_client, alice):
    response = admin_client.post(
        user_url("role_raise", alice.sub), {"role": "c", "level": "2", "shown": "a1", "expires": "2 days"}
    )
    assert said(response)[0].startswith("Role raised to C2 until ")
    assert said(response)[0].endswith("then the user returns to A1. They were signed out everywhere.")
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    assert "Role C2 until" in page and "then back to A1" in page


def test_the_help_desk_may_raise_but_not_grant_until(helpdesk_client, alice):
    response = helpdesk_client.post(user_url("access_until", alice.sub), {"application": "crm", "expires": "3 days"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert AuditEvent.objects.get(action="access_grant").outcome == AuditEvent.DENIED
    response = helpdesk_client.post(
        user_url("role_raise", alice.sub), {"role": "b", "level": "1", "shown": "a1", "expires": "1 day"}
    )
    assert response.status_code == HTTPStatus.FOUND and AccessEnd.objects.get().kind == AccessEnd.RAISE


def test_the_forms_take_no_get(admin_client, alice):
    for name in ("access_until", "access_end", "role_raise"):
        assert admin_client.get(user_url(name, alice.sub)).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_an_end_that_is_late_says_why_on_the_user_page(admin_client, alice, admin_user):
    end = AccessEnd.objects.create(
        kind=AccessEnd.GRANT,
        sub=alice.sub,
        application="billing",
        ends_at=timezone.now() - timedelta(minutes=5),
        granted_by=admin_user.email,
        late_reason="Cognito: EndpointConnectionError",
        attempts=2,
    )
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    assert "late: Cognito: EndpointConnectionError" in page and end.application in page


# --- Seen everywhere: the directory filter, the member list, the matrix, the export, the dashboard ------------


@pytest.fixture
def ending(admin_client, alice, make_cognito_user, admin_user):
    """alice: crm ends in 2 days; ben: billing ended an hour ago, not swept yet; cy: billing ends in 30 days."""

    services.access_grant(
        actor=admin_user, sub=alice.sub, application="crm", expires=timezone.now() + timedelta(days=2)
    )
    ben = index_user(make_cognito_user("ben@example.com", apps=["billing"]))
    AccessEnd.objects.create(
        kind=AccessEnd.GRANT,
        sub=ben.sub,
        application="billing",
        ends_at=timezone.now() - timedelta(hours=1),
        granted_by=admin_user.email,
    )
    cy = index_user(make_cognito_user("cy@example.com", apps=["billing"]))
    services.access_grant(
        actor=admin_user, sub=cy.sub, application="billing", expires=timezone.now() + timedelta(days=30)
    )
    return alice, ben, cy


def listed(page) -> list[str]:
    """Return the emails a directory page lists."""
    return [entry.email for entry in page.context["cl"].result_list]


def test_the_directory_filters_ends_within_7_days_and_ended_not_yet_swept(admin_client, ending):
    assert listed(admin_client.get(user_url("changelist"), {"expires": "soon"})) == ["alice@example.com"]
    assert listed(admin_client.get(user_url("changelist"), {"expires": "passed"})) == ["ben@example.com"]


def test_the_dashboard_has_an_ending_soon_tile(admin_client, ending):
    page = admin_client.get(reverse("admin:accounts_directoryentry_access_dashboard")).content.decode()
    assert '<b id="count-ending-soon">1</b>' in page and '<b id="count-ended-unswept">1</b>' in page


def test_the_member_list_and_its_export_show_each_end(admin_client, ending):
    alice, ben, cy = ending
    pk = Application.objects.get(name="billing").pk
    page = admin_client.get(reverse("admin:accounts_application_change", args=[pk]))
    ends = {entry.email: entry.ends_at for entry in page.context["page"]}
    assert ends["alice@example.com"] is None and ends["cy@example.com"] == AccessEnd.objects.get(sub=cy.sub).ends_at
    response = admin_client.get(reverse("admin:accounts_application_members_csv", args=[pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_email = {row[0]: row[-1] for row in rows[1:]}
    assert by_email["cy@example.com"] == AccessEnd.objects.get(sub=cy.sub).ends_at.isoformat()
    assert by_email["alice@example.com"] == ""


def test_the_matrix_and_the_access_review_show_each_end(admin_client, ending):
    alice, _, _ = ending
    page = admin_client.get(reverse("admin:accounts_directoryentry_access_matrix"), {"q": "alice"})
    end = AccessEnd.objects.get(sub=alice.sub, application="crm").ends_at
    assert f'<small class="ends" title="crm ends">until {end:%Y-%m-%d %H:%M}</small>' in page.content.decode()
    response = admin_client.get(reverse("admin:accounts_directoryentry_access_review"))
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}
    assert rows["alice@example.com"]["ends"] == f"crm={end.isoformat()}"
    assert rows["ben@example.com"]["ends"].startswith("billing=")
