"""CSV cells for spreadsheets: every cell quoted, and no formula a spreadsheet would run, in every export."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.audit.csvexport import lines, neutralise
from accounts.audit.record import audit_record
from accounts.models import Application
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db

HOSTILE = "Joan;=1+1;x"


@pytest.mark.parametrize(
    "value, shown",
    [
        ("Joan;=1+1;x", "'Joan;=1+1;x"),
        ("a,+1", "'a,+1"),
        ("a\t-1", "'a\t-1"),
        ("a\n@SUM(A1)", "'a\n@SUM(A1)"),
        ("a\r=1", "'a\r=1"),
        ("=1", "'=1"),
        ("Smith-Jones", "Smith-Jones"),
        ("a; b", "a; b"),
        ("a,b", "a,b"),
        ("o'brien+x@example.com", "o'brien+x@example.com"),
        (None, ""),
        (3, "3"),
    ],
)
def test_a_formula_after_any_separator_is_neutralised(value, shown):
    assert neutralise(value) == shown


def test_every_cell_is_quoted():
    assert list(lines(["name", "level"], [[HOSTILE, 2]])) == ['"name","level"\r\n', '"\'Joan;=1+1;x","2"\r\n']


@pytest.fixture
def hostile_everywhere(make_cognito_user, admin_user):
    """A member of billing named like a formula split on ';', and an audit event about them."""
    index_user(make_cognito_user("joan@example.com", name=HOSTILE, apps=["billing"]))
    audit_record(actor="setup", action="test", target=HOSTILE)


@pytest.mark.parametrize(
    "export",
    [
        "admin:accounts_auditevent_export",
        "admin:accounts_directoryentry_access_review",
        "admin:accounts_application_members_csv",
    ],
)
def test_every_export_quotes_every_cell_and_neutralises_the_cell(admin_client, hostile_everywhere, export):
    args = [Application.objects.get(name="billing").pk] if export.endswith("members_csv") else []
    text = b"".join(admin_client.get(reverse(export, args=args)).streaming_content).decode()
    assert f'"\'{HOSTILE}"' in text and f",{HOSTILE}" not in text
    for row in csv.reader(io.StringIO(text), quoting=csv.QUOTE_NONE):
        assert all(cell.startswith('"') and cell.endswith('"') for cell in row), row
