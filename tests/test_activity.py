"""Activity: the last use of each application (recorded by the access-check API) and staff members' last sign-in."""

import csv
import io
import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import DatabaseError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.applications import services as app_services
from accounts.applications import usage
from accounts.models import ApplicationUse, User
from accounts.signin import selectors as signin_selectors
from tests.conftest import STAFF_PASSWORD
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db

API = reverse("api_access_check")
MATRIX = reverse("admin:accounts_directoryentry_access_matrix")
EXPORT = reverse("admin:accounts_directoryentry_access_review")


def use_at(sub: str, application: str = "billing"):
    """Return the recorded last use, or None."""
    return ApplicationUse.objects.filter(sub=sub, application=application).values_list("last_at", flat=True).first()


@pytest.fixture
def check(admin_user, apps_pool):
    """Call the access-check API as billing with a user's token; return the JSON answer."""
    key = app_services.api_key_issue(actor=admin_user, name="billing").plain
    client = Client()

    def call(token: str) -> dict:
        body = json.dumps({"token": token, "application": "billing"})
        response = client.post(API, body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}")
        assert response.status_code == HTTPStatus.OK
        return response.json()

    return call


def test_an_allowed_check_records_the_use_and_a_refused_one_does_not(check, make_cognito_user, app_sign_in):
    bella = make_cognito_user("bella@example.com", role=("b", 2), apps=["billing"])
    carl = make_cognito_user("carl@example.com", role=("a", 1), apps=["crm"])
    index_user(bella), index_user(carl)
    assert check(app_sign_in("bella@example.com")["IdToken"])["allowed"]
    assert not check(app_sign_in("carl@example.com")["IdToken"])["allowed"]
    assert use_at(bella.sub) is not None and timezone.now() - use_at(bella.sub) < timedelta(minutes=1)
    assert not ApplicationUse.objects.filter(sub=carl.sub).exists()


def test_repeated_checks_within_a_minute_touch_no_database(django_assert_num_queries):
    now = timezone.now()
    assert usage.use_record(sub="s1", application="billing", at=now)
    with django_assert_num_queries(0):
        for seconds in range(1, 60):
            assert not usage.use_record(sub="s1", application="billing", at=now + timedelta(seconds=seconds))
    assert use_at("s1") == now


def test_another_worker_within_the_minute_writes_no_row_and_after_it_one(django_assert_max_num_queries):
    now = timezone.now()
    usage.use_record(sub="s1", application="billing", at=now)
    usage.forget_all()  # another worker: nothing remembered there
    assert usage.use_record(sub="s1", application="billing", at=now + timedelta(seconds=30))
    assert use_at("s1") == now  # the conditional update matched nothing: the row was not written
    usage.forget_all()
    later = now + timedelta(seconds=61)
    with django_assert_max_num_queries(4):  # a savepoint around one UPDATE
        usage.use_record(sub="s1", application="billing", at=later)
    assert use_at("s1") == later and ApplicationUse.objects.count() == 1


def test_a_database_fault_while_recording_is_logged_and_the_check_goes_on_simulated(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(usage.ApplicationUse.objects, "filter", broken)
    assert usage.use_record(sub="s1", application="billing")
    assert "was not recorded" in caplog.text


def test_the_process_forgets_stale_pairs_when_it_remembers_too_many(monkeypatch):
    monkeypatch.setattr(usage, "REMEMBERED_MAX", 3)
    now = timezone.now()
    for n in range(3):
        usage.use_record(sub=f"s{n}", application="billing", at=now)
    usage.use_record(sub="s9", application="billing", at=now + timedelta(minutes=2))
    assert set(usage._remembered) == {("s9", "billing")}


@pytest.fixture
def used(make_cognito_user):
    """Three users of billing: used now, used 40 days ago, never used."""
    people = {}
    for email, days in (("fresh@example.com", 0), ("old@example.com", 40), ("never@example.com", None)):
        user = make_cognito_user(email, role=("a", 1), apps=["billing", "crm"])
        index_user(user)
        if days is not None:
            ApplicationUse.objects.create(
                sub=user.sub, application="billing", last_at=timezone.now() - timedelta(days=days)
            )
        people[email.split("@")[0]] = user
    return people


def listed(client, **params) -> set[str]:
    """Return the emails the directory lists with these filters."""
    response = client.get(user_url("changelist"), params)
    assert response.status_code == HTTPStatus.OK
    return {entry.email for entry in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("unused", "expected"),
    [("7", {"old", "never"}), ("30", {"old", "never"}), ("90", {"never"}), ("never", {"never"})],
)
def test_the_directory_filters_users_with_no_use_in_n_days(admin_client, used, unused, expected):
    emails = listed(admin_client, unused=unused) - {"admin@example.com"}
    assert emails == {f"{name}@example.com" for name in expected}


def test_a_forged_no_use_value_lists_nobody(admin_client, used):
    assert listed(admin_client, unused="12") == set()


def test_the_user_page_shows_the_last_use_of_each_application(admin_client, used):
    page = admin_client.get(user_url("change", used["old"].sub)).content.decode()
    row = page[page.index('id="user-last-use"') :].split("</td>")[0]
    stamp = (timezone.now() - timedelta(days=40)).strftime("%Y-%m-%d")
    assert f"billing: {stamp}" in row and "UTC" in row and "crm: never" in row


def test_the_matrix_shows_the_last_use_in_each_held_cell(admin_client, used):
    page = admin_client.get(MATRIX, {"q": "fresh"}).content.decode()
    assert f'data-application="billing" title="last use of billing">{timezone.now():%Y-%m-%d}<' in page
    assert 'data-application="crm" title="last use of crm">never used<' in page


def review(client, **params) -> dict[str, dict]:
    """Return the access-review export's rows by email."""
    response = client.get(EXPORT, params)
    return {row["email"]: row for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}


def test_the_access_review_export_has_the_last_use_of_any_application_or_the_one_exported(admin_client, used):
    ApplicationUse.objects.create(sub=used["never"].sub, application="crm", last_at=timezone.now())
    rows = review(admin_client)
    old = f"{(timezone.now() - timedelta(days=40)):%Y-%m-%d}T"
    assert rows["old@example.com"]["last_used"].startswith(old)
    assert rows["never@example.com"]["last_used"].startswith(f"{timezone.now():%Y-%m-%d}T")  # crm, just now
    assert review(admin_client, application="billing")["never@example.com"]["last_used"] == "never"


def test_a_sign_in_records_the_last_sign_in_and_my_account_shows_it_and_the_one_before(client, admin_identity):
    login = reverse("accounts:login")
    assert signin_selectors.staff_last_sign_in([admin_identity.sub]) == {admin_identity.sub: None}
    client.post(login, {"email": "admin@example.com", "password": STAFF_PASSWORD})
    first = User.objects.get(cognito_sub=admin_identity.sub).last_login
    assert first is not None
    page = client.get(reverse("accounts:account")).content.decode()
    assert "none: this is your first" in page
    client.post(reverse("accounts:logout"))
    client.post(login, {"email": "admin@example.com", "password": STAFF_PASSWORD})
    second = signin_selectors.staff_last_sign_in([admin_identity.sub])[admin_identity.sub]
    assert second > first
    page = client.get(reverse("accounts:account")).content.decode()
    assert f'id="previous-sign-in">{timezone.localtime(first):%Y-%m-%d %H:%M:%S} UTC<' in page
    assert f'id="last-sign-in">{timezone.localtime(second):%Y-%m-%d %H:%M:%S} UTC<' in page


def test_the_user_page_of_a_staff_member_shows_their_last_portal_sign_in(admin_client, helpdesk_identity, client):
    index_user(helpdesk_identity)
    page = admin_client.get(user_url("change", helpdesk_identity.sub)).content.decode()
    assert 'id="user-last-sign-in">never<' in page
