"""The audit said for people: before → after in one line on the audit list and the user page, to the second."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.audit import changes
from accounts.audit.record import audit_record
from accounts.models import AuditEvent
from tests.support.staff import user_url

pytestmark = pytest.mark.django_db

AUDIT = reverse("admin:accounts_auditevent_changelist")


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        ({"role": "b2"}, {"role": "a3"}, "role: B2 → A3"),
        ({"role": "a1"}, {"role": "a1", "unchanged": True}, "role: A1 (unchanged)"),
        ({"role": "none"}, {"role": "several"}, "role: None → Several (drift)"),
        (
            {"applications": ["crm", "docs"]},
            {"applications": ["billing", "docs"], "granted": ["billing"], "revoked": ["crm"]},
            "applications: +billing −crm",
        ),
        (
            {"applications": []},
            {"applications": ["hr"], "granted": ["hr"], "revoked": [], "not_applied": ["grant crm"]},
            "applications: +hr; not applied: grant crm",
        ),
        ({"enabled": True}, {"enabled": False}, "enabled: yes → no"),
        ({}, {"sessions_revoked": True}, "sessions revoked: yes"),
        ({"email": "a@example.com"}, {"deleted": True}, "email was a@example.com; deleted: yes"),
        ({}, {}, ""),
    ],
)
def test_a_change_is_said_in_one_line(before, after, said):
    assert changes.change_text(before, after) == said


def test_a_long_change_is_cut_for_the_list_and_kept_whole_for_the_page():
    after = {"applications": [f"app-{n:03}" for n in range(100)]}
    assert len(changes.change_text({}, after)) > changes.LIST_MAX
    short = changes.change_short({}, after)
    assert len(short) == changes.LIST_MAX and short.endswith("…")


def test_a_moment_is_said_to_the_second_with_the_zone(settings):
    assert changes.when(datetime(2026, 12, 1, 12, 31, 15, 900000, tzinfo=UTC)) == "2026-12-01 12:31:15 UTC"


def test_the_audit_list_shows_before_and_after_and_the_second(admin_client, alice):
    admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "3", "shown": "a1"})
    admin_client.post(user_url("access", alice.sub), {"applications": ["crm"], "confirm": "on"})
    page = admin_client.get(AUDIT).content.decode()
    assert "role: A1 → B3" in page and "applications: +crm −billing" in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)


def test_the_user_pages_history_is_readable_not_python_dicts(admin_client, alice):
    admin_client.post(user_url("role", alice.sub), {"role": "b", "level": "2", "shown": "a1"})
    admin_client.post(user_url("access", alice.sub), {"applications": ["billing", "crm"]})
    page = admin_client.get(user_url("change", alice.sub)).content.decode()
    history = page[page.index('id="history"') :]
    assert "role: A1 → B2" in history and "applications: +crm" in history
    assert "{&#x27;" not in history and "{'" not in history
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", history)


def test_a_change_holding_markup_is_escaped_on_the_list_and_the_user_page(admin_client, alice):
    audit_record(actor="test", action="user_invite", target_sub=alice.sub, after={"name": "<b>x</b>"})
    for url in (AUDIT, user_url("change", alice.sub)):
        page = admin_client.get(url).content.decode()
        assert "name: &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert AuditEvent.objects.filter(action="user_invite").count() == 1
