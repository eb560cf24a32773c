"""The words people read: messages as written (no capitalised email), counts with the noun in the right number."""

from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.bulk import imports
from accounts.models import BulkJob
from accounts.rules import words
from tests.bulk import csv_bytes, preview, run_worker
from tests.support.staff import index_user, user_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("count", "noun", "plural", "expected"),
    [(0, "row", "", "0 rows"), (1, "row", "", "1 row"), (2, "change", "", "2 changes"), (1, "y", "ies", "1 y")],
)
def test_counted_puts_the_noun_in_the_number_of_the_count(count, noun, plural, expected):
    assert words.counted(count, noun, plural) == expected


def test_a_flash_message_starting_with_an_email_keeps_it_lower_case(admin_client, make_cognito_user):
    mary = make_cognito_user("mary.shaw@example.com", role=("a", 1))
    index_user(mary)
    response = admin_client.post(user_url("disable", mary.sub), {"confirm": "on"}, follow=True)
    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert "mary.shaw@example.com is disabled and signed out everywhere." in page
    assert "Mary.shaw@example.com" not in page


def test_a_preview_of_one_change_says_apply_1_change(admin_client, admin_user):
    upload = csv_bytes("new.person@example.com,New Person,b,2,")
    admin_client.post(
        reverse("admin:accounts_bulkjob_import"), {"file": SimpleUploadedFile("u.csv", upload, "text/csv")}
    )
    run_worker()
    job = BulkJob.objects.get()
    page = admin_client.get(reverse("admin:accounts_bulkjob_change", args=[job.pk])).content.decode()
    assert "Apply 1 change<" in page and "1 row:" in page and 'of <span id="lines-total">1</span> line' not in page


def test_a_conflict_with_one_other_line_says_on_line_not_on_lines(admin_user):
    job = preview(admin_user, csv_bytes("clash@example.com,Clash,a,1,", "CLASH@example.com,Clash,b,1,"))
    first = job.rows.order_by("number").first()
    assert "appears again on line 3 with other values" in first.detail
    assert first.detail == imports.MESSAGES["conflict"].format(email="clash@example.com", lines="line 3")
