"""Browser test of the CSV import: upload, the worker's preview, apply, the progress following the worker to the end.

The worker runs in this test's thread, through the task runner's own Worker (django-tasks-db), rather than as
a db_worker subprocess: on SQLite the live server's database is in memory, shared with this thread only, so
a subprocess could not see it. Running it here also lets the test stop half-way and watch the page update.
"""

import pytest
from playwright.sync_api import expect

from accounts import cognito, tasks
from accounts.directory import services
from accounts.models import BulkJob
from tests.bulk import csv_bytes, run_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def known(pool, make_cognito_user):
    """One user already in Cognito and the directory, whom the file changes."""
    user = make_cognito_user("known@example.com", role=("a", 1), apps=["billing"], name="Known User")
    services.directory_sync(actor="test")
    return user


def test_an_administrator_uploads_previews_applies_and_follows_the_progress_to_done(sign_in_browser, admin_user, known):
    page = sign_in_browser(admin_user)
    page.goto("/admin/accounts/directoryentry/")
    page.click("#import-link")
    data = csv_bytes(
        "fresh.one@example.com,Fresh One,b,2,crm;hr",
        "known@example.com,Known User,c,1,billing;docs",
        "fresh.two@example.com,Fresh Two,a,1,",
        "broken,Broken,q,1,",
        bom=True,
    )
    page.set_input_files("#id_file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": data}])
    page.click("#import-submit")

    expect(page.locator("#reading-file")).to_contain_text("Reading 0 of 5 lines")  # the request planned nothing
    run_worker()  # the worker reads the file; the page reloads itself (a meta refresh) into the preview
    expect(page.locator("#preview-summary")).to_contain_text("Preview: nothing has been applied")
    expect(page.locator("#count-create")).to_have_text("2")
    expect(page.locator("#count-update")).to_have_text("1")
    expect(page.locator("#count-error")).to_have_text("1")
    expect(page.locator("#job-rows")).to_contain_text("role A1 → C1; grant docs")
    expect(page.locator("#job-rows")).to_contain_text("Unknown role 'q'")
    assert not list(cognito.users_list('email = "fresh.one@example.com"'))  # the preview applied nothing

    page.click("#apply-job")
    expect(page.locator("#job-status")).to_have_text("Queued")
    expect(page.locator("#count-remaining")).to_have_text("3")
    job = BulkJob.objects.get()
    tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk, limit=1)  # one row, then the page catches up
    expect(page.locator("#count-done")).to_have_text("1")
    expect(page.locator("#count-remaining")).to_have_text("2")
    run_worker()
    expect(page.locator("#job-status")).to_have_text("Done")
    expect(page.locator("#count-done")).to_have_text("3")
    expect(page.locator("#count-failed")).to_have_text("0")

    fresh = cognito.user_get("fresh.one@example.com").attributes
    assert [fresh[f"custom:role_{name}"] for name in "abc"] == ["0", "2", "0"]
    assert sorted(cognito.user_groups("fresh.one@example.com")) == ["app-crm", "app-hr"]
    assert sorted(cognito.user_groups(known.sub)) == ["app-billing", "app-docs"]
    assert cognito.user_get(known.sub).attributes["custom:role_c"] == "1"
    assert cognito.user_groups("fresh.two@example.com") == []
