"""CSV import: the dry run, bad files and rows, applying in the worker, re-running, faults and resuming."""

import hashlib
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connections
from django.urls import reverse
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from accounts import cognito, tasks
from accounts.bulk import engine as bulk
from accounts.bulk import imports, jobs
from accounts.directory import selectors, services
from accounts.models import AuditEvent, BulkJob, BulkRow
from tests.bulk import csv_bytes, outcomes, preview, run_worker
from tests.faults import cognito_fault
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:accounts_bulkjob_import")


def job_url(job, name="change") -> str:
    """Return a job's admin URL: change (its page), progress, apply, resume, cancel."""
    return reverse(f"admin:accounts_bulkjob_{name}", args=[job.pk])


def plans(job) -> dict[str, tuple[str, str]]:
    """Return {email: (plan, detail)} for a previewed job."""
    return {row.email: (row.plan, row.detail) for row in job.rows.order_by("number")}


def roles_of(email: str) -> list[str]:
    """Return the user's three role attributes, as Cognito holds them."""
    attributes = cognito.user_get(email).attributes
    return [attributes[f"custom:role_{name}"] for name in "abc"]


def groups_of(email: str) -> list[str]:
    """Return the user's groups, sorted."""
    return sorted(cognito.user_groups(email))


def changes_audited() -> list[tuple[str, str, str, str]]:
    """Return the (actor, action, target, outcome) of every audited attempt, oldest first."""
    return list(AuditEvent.objects.order_by("at", "id").values_list("actor", "action", "target", "outcome"))


@pytest.fixture
def bob(make_cognito_user):
    """A user holding C3 and crm + hr, in the index."""
    user = make_cognito_user("bob@example.com", role=("c", 3), apps=["crm", "hr"], name="Bob Stone")
    index_user(user)
    return user


MIXED = csv_bytes(
    "new.person@example.com,New Person,b,2,crm;hr",
    "alice@example.com,Alice Liddell,a,1,billing",
    "bob@example.com,Bob Stone,a,2,crm;docs",
    "not-an-email,Broken Row,z,9,nope",
)


# --- The dry run ----------------------------------------------------------------------------------


def test_the_dry_run_plans_every_row_against_the_index_and_applies_nothing(admin_user, alice, bob):
    with cognito.count_calls() as calls:
        job = preview(admin_user, MIXED)
    assert not calls
    assert plans(job) == {
        "new.person@example.com": ("create", "invite with role B2; applications: crm, hr"),
        "alice@example.com": ("unchanged", ""),
        "bob@example.com": ("update", "role C3 → A2; grant docs; revoke hr"),
        "not-an-email": (
            "error",
            "Enter a valid email address. Unknown role 'z'; the roles are a, b, c. "
            "Unknown application: nope. Choose from the listed applications.",
        ),
    }
    assert (job.status, job.total, job.created_by) == (BulkJob.PREVIEW, 4, admin_user)
    assert not AuditEvent.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert roles_of("bob@example.com") == ["0", "0", "3"]
    assert not list(cognito.users_list('email = "new.person@example.com"'))


def test_a_file_with_and_without_bom_reads_alike(admin_user, alice):
    line = "alice@example.com,Alice Liddell,a,1,billing"
    assert plans(preview(admin_user, csv_bytes(line, bom=True))) == plans(preview(admin_user, csv_bytes(line)))
    quirky = csv_bytes(
        " Alice@Example.COM , Alice Liddell ,A, 1 , Billing ; ", header="Email, NAME,role,Level,applications\n"
    )
    assert plans(preview(admin_user, quirky)) == {"alice@example.com": ("unchanged", "")}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", imports.MESSAGES["empty"]),
        (b"\xef\xbb\xbf", imports.MESSAGES["empty"]),
        (csv_bytes(), imports.MESSAGES["no_rows"]),
        (csv_bytes("", " , ,"), imports.MESSAGES["no_rows"]),
        (
            csv_bytes("a@example.com,A,a,1", header="email,name,role,level\n"),
            imports.MESSAGES["missing_columns"].format(names="applications"),
        ),
        (
            csv_bytes("a@example.com,A,a,1,,x", header="email,name,role,level,applications,team\n"),
            imports.MESSAGES["extra_columns"].format(names="team"),
        ),
        (
            csv_bytes("a@example.com,a@example.com,A,a,1,", header="email,email,name,role,level,applications\n"),
            imports.MESSAGES["repeated_columns"].format(names="email"),
        ),
        (csv_bytes("a@example.com,A,a,1,").replace(b"A,a", b"\xe9,a"), imports.MESSAGES["encoding"].format(line=2)),
        (
            "email,name,role,level,applications\nzoë@example.com,Zoë,a,1,\n".encode("utf-16"),
            imports.MESSAGES["encoding"].format(line=1),
        ),
        (
            csv_bytes("a@example.com,A,a,1,", "b@example.com," + "B" * 140000 + ",a,1,"),
            "The file is not valid CSV (line 3): field larger than field limit (131072).",
        ),
    ],
)
def test_a_bad_file_is_refused_as_a_whole_and_leaves_nothing(admin_user, data, message):
    with pytest.raises(imports.FileError) as refused:
        preview(admin_user, data)
    assert refused.value.message == message
    assert not BulkJob.objects.exists() and not BulkRow.objects.exists()


def many_people(count: int) -> bytes:
    """Return a CSV of `count` new users."""
    return csv_bytes(*(f"person{n}@example.com,Person {n},a,1,crm" for n in range(count)))


@pytest.mark.django_db(transaction=True)
def test_a_large_preview_writes_each_batch_in_a_transaction_of_its_own(admin_user, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 10)
    database, commits, inserts = connections["default"], [], []
    commit = database.commit
    monkeypatch.setattr(database, "commit", lambda: (commits.append(1), commit())[1])

    def spy(execute, sql, params, many, context):
        if sql.startswith("INSERT") and BulkRow._meta.db_table in sql:
            inserts.append(len(commits))  # the transaction (counted by commits so far) the rows go in
        return execute(sql, params, many, context)

    with database.execute_wrapper(spy):
        job = preview(admin_user, many_people(35))
    assert job.total == 35 and job.rows.count() == 35
    assert len(inserts) == 4 and len(set(inserts)) == 4, "the batches were written in one long transaction"


def test_a_file_refused_after_some_batches_leaves_nothing(admin_user, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 10)
    with pytest.raises(imports.FileError) as refused:
        preview(admin_user, many_people(34) + b"\xe9,x,a,1,\n")
    assert refused.value.message == imports.MESSAGES["encoding"].format(line=36)
    assert not BulkJob.objects.exists() and not BulkRow.objects.exists()


@pytest.mark.parametrize("status", [BulkJob.PREVIEW, BulkJob.READING])
def test_a_preview_still_being_read_cannot_be_started(admin_user, status):
    job = BulkJob.objects.create(kind=BulkJob.IMPORT, created_by=admin_user, file_name="big.csv", status=status)
    with pytest.raises(services.ServiceError):
        jobs.job_start(actor=admin_user, job=job, background=False)
    assert BulkJob.objects.get(pk=job.pk).status == status


def test_bad_rows_are_reported_one_by_one(admin_user, alice):
    job = preview(
        admin_user,
        csv_bytes(
            "ok@example.com,Fine,a,1,",
            "two@example.com,Too Few,a",
            "bad@@example.com,Bad,a,1,",
            "level@example.com,Level,b,4,crm",
            "level2@example.com,Level,b,two,crm",
            "name@example.com,,c,1,",
            "nul@example.com,N\0L,c,1,",
            "same@example.com,Same,a,1,crm",
            "other@example.com,Other,a,1,",
            "same@example.com,Same,a,1,crm",
            "clash@example.com,Clash,a,1,",
            "CLASH@example.com,Clash,b,1,",
        ),
    )
    assert plans(job) == {
        "ok@example.com": ("create", "invite with role A1; applications: none"),
        "two@example.com": ("error", "This row has 3 fields; the header has 5."),
        "bad@@example.com": ("error", services.MESSAGES["invalid_email"]),
        "level@example.com": ("error", "Level must be a whole number from 1 to 3."),
        "level2@example.com": ("error", "Level must be a whole number from 1 to 3."),
        "name@example.com": ("error", services.MESSAGES["invalid_name"].format(max=256)),
        "nul@example.com": ("error", services.MESSAGES["invalid_name"].format(max=256)),
        "same@example.com": ("error", imports.MESSAGES["duplicate"].format(email="same@example.com", line=9)),
        "other@example.com": ("create", "invite with role A1; applications: none"),
        "clash@example.com": ("error", imports.MESSAGES["duplicate"].format(email="clash@example.com", line=12)),
    }
    same = job.rows.filter(email="same@example.com").order_by("number")
    assert [(row.number, row.plan) for row in same] == [(9, "create"), (11, "error")]  # identical: first kept
    clash = job.rows.filter(email="clash@example.com").order_by("number")
    assert [row.plan for row in clash] == ["error", "error"]  # they disagree: neither is applied
    assert clash[0].detail == imports.MESSAGES["conflict"].format(email="clash@example.com", lines="line 13")


def test_an_administrator_cannot_import_a_change_of_their_own_role(admin_user, make_cognito_user):
    index_user(cognito.user_get("admin@example.com"))
    job = preview(admin_user, csv_bytes("admin@example.com,Ada Admin,b,1,"))
    assert plans(job) == {"admin@example.com": ("error", imports.MESSAGES["not_allowed_role"])}


# --- Upload screen ----------------------------------------------------------------------------------


def upload(client, data: bytes, name: str = "users.csv"):
    """Post a file to the upload form."""
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_upload_shows_the_preview_and_apply_runs_in_the_worker(admin_client, admin_user, alice, bob):
    response = upload(admin_client, MIXED)
    job = BulkJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == job_url(job)
    run_worker()  # the worker reads the file
    page = admin_client.get(job_url(job)).content.decode()
    assert "Preview: nothing has been applied" in page and "role C3 → A2; grant docs; revoke hr" in page
    assert 'id="count-error">1<' in page and "Apply 2 changes" in page
    assert not job.chunks.exists()  # the stored file is gone once read

    response = admin_client.post(job_url(job, "apply"))
    assert response.status_code == HTTPStatus.FOUND
    runs = DBTaskResult.objects.filter(task_path=tasks.bulk_run.module_path)
    assert runs.count() == 2  # two tasks, so that two workers can share the job
    assert admin_client.get(job_url(job, "progress")).json()["status"] == "queued"
    run_worker()

    progress = admin_client.get(job_url(job, "progress")).json()
    assert {
        k: progress[k] for k in ("status", "done", "failed", "skipped", "remaining", "created", "updated", "unchanged")
    } == {
        "status": "done",
        "done": 3,
        "failed": 0,
        "skipped": 1,
        "remaining": 0,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
    }
    assert roles_of("new.person@example.com") == ["0", "2", "0"]
    assert groups_of("new.person@example.com") == ["app-crm", "app-hr"]
    assert roles_of("bob@example.com") == ["2", "0", "0"] and groups_of("bob@example.com") == ["app-crm", "app-docs"]
    actors = {actor for actor, *_ in changes_audited()}
    assert actors == {"admin@example.com"}
    assert [row[1:] for row in changes_audited()] == [
        ("bulk_import", f"job {job.pk}", "success"),
        ("user_invite", "new.person@example.com", "success"),
        ("role_change", "bob@example.com", "success"),
        ("access_set", "bob@example.com", "success"),
    ]
    assert AuditEvent.objects.get(action="access_set").after["sessions_revoked"] is True  # hr was revoked
    assert "not-an-email" in admin_client.get(job_url(job) + "?show=error").content.decode()


def test_the_same_file_again_changes_nothing(admin_client, admin_user, alice, bob):
    first = preview(admin_user, MIXED)
    jobs.job_start(actor=admin_user, job=first)
    run_worker()
    audited = len(changes_audited())

    second = preview(admin_user, MIXED)
    assert {email: plan for email, (plan, _) in plans(second).items()} == {
        "new.person@example.com": "unchanged",
        "alice@example.com": "unchanged",
        "bob@example.com": "unchanged",
        "not-an-email": "error",
    }
    assert "This file was already applied" in admin_client.get(job_url(second)).content.decode()
    jobs.job_start(actor=admin_user, job=second)
    with cognito.count_calls() as calls:
        run_worker()
    assert set(calls) == {"AdminGetUser", "AdminListGroupsForUser"}  # read live, nothing written
    assert bulk.progress(second)["unchanged"] == 3
    assert [row[1] for row in changes_audited()[audited:]] == ["bulk_import"]


def test_applying_judges_each_row_on_cognito_not_on_a_stale_index(admin_user, bob):
    job = preview(admin_user, csv_bytes("bob@example.com,Bob Stone,a,2,crm;docs"))
    cognito.user_update_attributes(bob.sub, {"custom:role_c": "0", "custom:role_a": "2"})  # changed meanwhile
    cognito.user_add_to_group(bob.sub, "app-docs")
    cognito.user_remove_from_group(bob.sub, "app-hr")
    jobs.job_start(actor=admin_user, job=job)
    with cognito.count_calls() as calls:
        run_worker()
    assert outcomes(job) == {"bob@example.com": ("unchanged", "")}
    assert set(calls) == {"AdminGetUser", "AdminListGroupsForUser"}
    assert selectors.entry_get(bob.sub).role_key == "a2"  # the live reading refreshed the index


@pytest.mark.parametrize("persona, status", [("helpdesk", 403), ("nonstaff", 403)])
def test_only_administrators_may_import(persona, status, request, client, pool):
    client.force_login(request.getfixturevalue(f"{persona}_user"))
    assert client.get(IMPORT_URL).status_code == status
    assert upload(client, MIXED).status_code == status
    assert not BulkJob.objects.exists()


def test_the_upload_needs_a_csrf_token(admin_user, pool):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert upload(client, MIXED).status_code == HTTPStatus.FORBIDDEN
    assert not BulkJob.objects.exists()


def test_an_oversized_upload_is_refused_with_the_limit_before_it_is_read(admin_client, settings):
    settings.PORTAL_BULK_IMPORT_MAX_MB = 1
    response = upload(admin_client, csv_bytes() + b"x" * (1024 * 1024 + 70 * 1024))
    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert "The file is 1.1 MB and the limit is 1 MB" in response.content.decode()
    assert not BulkJob.objects.exists()
    response = upload(admin_client, csv_bytes() + b"x" * (1024 * 1024 + 1))  # over, but within the slack
    assert "the limit is 1 MB" in response.content.decode() and not BulkJob.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", imports.MESSAGES["empty"]),
        (
            csv_bytes("a@example.com,A,a,1", header="email,name,role,level\n"),
            imports.MESSAGES["missing_columns"].format(names="applications"),
        ),
    ],
)
def test_the_upload_page_shows_an_empty_file_or_a_bad_header_and_stores_nothing(admin_client, data, message):
    response = upload(admin_client, data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert not BulkJob.objects.exists() and not DBTaskResult.objects.exists()


def test_a_large_files_upload_plans_nothing_in_the_request_and_the_worker_plans_it(admin_client, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 10)
    monkeypatch.setattr(imports, "CHUNK_BYTES", 512)  # several stored chunks, lines split across them
    data = many_people(45)
    response = upload(admin_client, data, name="big.csv")
    job = BulkJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == job_url(job)
    assert (job.status, job.rows.count(), job.total, job.lines_read, job.lines_total) == (BulkJob.READING, 0, 0, 0, 46)
    assert job.chunks.count() == -(-len(data) // 512)
    assert DBTaskResult.objects.get().task_path == tasks.import_read_run.module_path

    run_worker()
    job.refresh_from_db()
    assert (job.status, job.total, job.lines_read, job.error) == (BulkJob.PREVIEW, 45, 46, "")
    assert [row.email for row in job.rows.order_by("number")] == [f"person{n}@example.com" for n in range(45)]
    assert set(job.rows.values_list("plan", flat=True)) == {BulkRow.CREATE}
    assert job.file_sha256 == hashlib.sha256(data).hexdigest() and not job.chunks.exists()


def test_a_file_uploaded_twice_is_not_called_applied_while_the_first_is_read_or_previewed(admin_client):
    upload(admin_client, many_people(3))
    upload(admin_client, many_people(3))
    first, second = BulkJob.objects.order_by("pk")
    assert "already applied" not in admin_client.get(job_url(second)).content.decode()
    run_worker()
    assert "already applied" not in admin_client.get(job_url(second)).content.decode()


def test_the_page_of_a_file_being_read_shows_the_lines_read_and_refreshes_itself(admin_client, admin_user):
    upload(admin_client, many_people(3))
    job = BulkJob.objects.get()
    BulkJob.objects.filter(pk=job.pk).update(lines_read=2)
    response = admin_client.get(job_url(job))
    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'Reading <span id="lines-read">2</span> of <span id="lines-total">4</span> lines' in page
    assert '<meta http-equiv="refresh" content="2">' in page and 'id="apply-job"' not in page
    response = admin_client.post(job_url(job, "apply"), follow=True)
    assert jobs.SAID["still_reading"] in response.content.decode()
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.READING
    assert not DBTaskResult.objects.filter(task_path=tasks.bulk_run.module_path).exists()

    run_worker()
    page = admin_client.get(job_url(job)).content.decode()
    assert "Preview: nothing has been applied" in page and 'http-equiv="refresh"' not in page


def test_a_file_whose_reader_stopped_shows_as_stalled_and_can_be_discarded(admin_client):
    upload(admin_client, many_people(3))
    job = BulkJob.objects.get()
    BulkJob.objects.filter(pk=job.pk).update(created_at=job.created_at - bulk.timedelta(hours=1))
    page = admin_client.get(job_url(job)).content.decode()
    assert 'id="job-stalled"' in page and 'id="discard-job"' in page
    admin_client.post(job_url(job, "cancel"))
    run_worker()  # the queued reading finds the job discarded and reads nothing
    job.refresh_from_db()
    assert (job.status, job.rows.count(), job.chunks.count()) == (BulkJob.CANCELLED, 0, 0)


@pytest.mark.parametrize(
    "data, message",
    [
        (csv_bytes(), imports.MESSAGES["no_rows"]),
        (csv_bytes("a@example.com,A,a,1,").replace(b"A,a", b"\xe9,a"), imports.MESSAGES["encoding"].format(line=2)),
        (many_people(25) + b"\xe9,x,a,1,\n", imports.MESSAGES["encoding"].format(line=27)),
    ],
)
def test_a_malformed_file_is_reported_on_the_job_page_and_leaves_no_rows(admin_client, monkeypatch, data, message):
    monkeypatch.setattr(imports, "BATCH", 10)
    upload(admin_client, data)
    run_worker()
    job = BulkJob.objects.get()
    assert (job.status, job.error, job.rows.count(), job.chunks.count()) == (BulkJob.REFUSED, message, 0, 0)
    page = admin_client.get(job_url(job)).content.decode()
    assert "File refused: nothing has been applied" in page and f'id="file-error">{escape(message)}<' in page
    response = admin_client.post(job_url(job, "apply"), follow=True)
    assert escape(jobs.SAID["refused"]) in response.content.decode()
    assert BulkJob.objects.get(pk=job.pk).status == BulkJob.REFUSED


def test_a_file_discarded_while_being_read_is_read_no_further(admin_client, admin_user, monkeypatch):
    monkeypatch.setattr(imports, "BATCH", 10)
    upload(admin_client, many_people(30))
    job = BulkJob.objects.get()
    planned = imports._plan_batch

    def discard_after_the_first_batch(actor, parsed, job):
        if parsed[0].number > 2:
            jobs.job_cancel(actor=admin_user, job=job)
        return planned(actor, parsed, job)

    monkeypatch.setattr(imports, "_plan_batch", discard_after_the_first_batch)
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.lines_read, job.rows.count(), job.chunks.count()) == (BulkJob.CANCELLED, 11, 0, 0)


# --- Faults -------------------------------------------------------------------------------------------


def new_people(count: int) -> bytes:
    """Return a file of `count` new users with role B1 and crm."""
    return csv_bytes(*[f"person{n}@example.com,Person {n},b,1,crm" for n in range(count)])


def invites_per_email() -> dict[str, int]:
    """Return how many successful invitations each email got."""
    counts: dict[str, int] = {}
    for target in AuditEvent.objects.filter(action="user_invite", outcome="success").values_list("target", flat=True):
        counts[target] = counts.get(target, 0) + 1
    return counts


@pytest.mark.parametrize(
    "code, status, said",
    [("TooManyRequestsException", 400, "kept throttling"), ("InternalErrorException", 500, "could not be reached")],
)
def test_throttling_or_an_outage_midway_interrupts_and_a_resume_finishes_without_repeats(
    admin_client, admin_user, no_backoff, code, status, said
):
    job = preview(admin_user, new_people(5))
    jobs.job_start(actor=admin_user, job=job)
    with cognito_fault(code, operations={"AdminCreateUser"}, after=2, status=status) as failed:
        run_worker()
    assert len(failed) == 3  # the gateway's three attempts at the third user
    job.refresh_from_db()
    assert job.status == BulkJob.INTERRUPTED
    assert said in job.error and "at line 4" in job.error and "2 rows are done" in job.error and "3 left" in job.error
    assert bulk.progress(job)["remaining"] == 3
    assert job.rows.get(number=4).state == BulkRow.PENDING
    page = admin_client.get(job_url(job)).content.decode()
    assert 'id="resume-job"' in page and said in page

    admin_client.post(job_url(job, "resume"))
    run_worker()
    job.refresh_from_db()
    assert (job.status, bulk.progress(job)["created"]) == (BulkJob.DONE, 5)
    assert invites_per_email() == {f"person{n}@example.com": 1 for n in range(5)}
    assert len(list(cognito.users_list('email ^= "person"'))) == 5
    assert [a for _, a, _, _ in changes_audited() if a.startswith("bulk")] == ["bulk_import", "bulk_resume"]


def test_throttling_that_outlasts_the_retries_on_a_new_users_grant_interrupts_and_resume_finishes_simulated(
    admin_user, no_backoff
):
    people = [f"person{n}@example.com" for n in range(3)]
    job = preview(admin_user, csv_bytes(*[f"{email},Person,b,1,crm;hr" for email in people]))
    jobs.job_start(actor=admin_user, job=job)
    with cognito_fault(operations={"AdminAddUserToGroup"}, after=1) as failed:  # crm granted, hr throttled
        run_worker()
    assert failed == ["AdminAddUserToGroup"] * 3  # the gateway's three attempts at person0's hr
    job.refresh_from_db()
    assert job.status == BulkJob.INTERRUPTED  # not "done" with a user holding part of their applications
    assert "kept throttling" in job.error and "at line 2" in job.error and "3 left" in job.error
    assert job.rows.get(number=2).state == BulkRow.PENDING and groups_of(people[0]) == ["app-crm"]

    jobs.job_resume(actor=admin_user, job=job)
    run_worker()
    job.refresh_from_db()
    assert job.status == BulkJob.DONE and bulk.progress(job)["failed"] == 0
    assert [groups_of(email) for email in people] == [["app-crm", "app-hr"]] * 3
    assert invites_per_email() == {people[1]: 1, people[2]: 1}  # person0's invite is audited as partial
    (partial,) = AuditEvent.objects.filter(action="user_invite", target=people[0])
    assert partial.outcome == AuditEvent.FAILURE and "granting hr failed" in partial.error


def test_throttling_the_gateway_absorbs_does_not_stop_the_import(admin_user, no_backoff):
    job = preview(admin_user, new_people(3))
    jobs.job_start(actor=admin_user, job=job)
    with cognito_fault(operations={"AdminCreateUser", "AdminAddUserToGroup"}, after=1, times=2) as failed:
        run_worker()
    assert len(failed) == 2
    assert bulk.progress(job)["created"] == 3 and invites_per_email() == {f"person{n}@example.com": 1 for n in range(3)}
    assert all(groups_of(f"person{n}@example.com") == ["app-crm"] for n in range(3))


def test_a_row_a_killed_worker_left_half_done_is_finished_not_repeated(admin_user, settings):
    job = preview(admin_user, new_people(3))
    jobs.job_start(actor=admin_user, job=job, background=False)
    # A worker claims line 2, creates the user, and dies before granting crm and recording the row.
    row = bulk.row_claim(job, "dead-worker")
    assert row.number == 2
    services.user_invite(
        actor=admin_user, email=row.data["email"], name=row.data["name"], role="b", level=1, applications=[]
    )
    BulkRow.objects.filter(pk=row.pk).update(lease_until=row.lease_until - bulk.timedelta(hours=1))  # lease ran out
    result = tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk, worker="new-worker")
    assert (result["status"], result["created"], result["updated"]) == ("done", 2, 1)
    row.refresh_from_db()
    assert (row.outcome, row.message, row.attempts, row.claimed_by) == ("updated", "grant crm", 2, "new-worker")
    assert invites_per_email() == {f"person{n}@example.com": 1 for n in range(3)}
    assert groups_of("person0@example.com") == ["app-crm"]


def test_two_workers_never_hold_the_same_row(admin_user):
    job = preview(admin_user, new_people(6))
    jobs.job_start(actor=admin_user, job=job, background=False)
    held = {"a": [], "b": []}
    for worker in "abab":
        held[worker].append(bulk.row_claim(job, worker).number)
    assert held == {"a": [2, 4], "b": [3, 5]}
    stale = job.rows.get(number=2)
    assert not bulk.row_finish(stale, "b", "created", "")  # a worker cannot finish a row it does not hold
    assert BulkRow.objects.filter(state=BulkRow.CLAIMED).count() == 4


def test_an_import_waits_for_the_slots_of_each_call_s_quota_category(admin_user, settings, quota_clock):
    # 3 calls a row: ListUsers (UserList), AdminCreateUser (UserCreation 10 x 0.5 = 5/s) and AdminAddUserToGroup
    # (UserUpdate 5 x 0.5 = 2.5/s): the slowest category sets the pace, each bucket keeps its own.
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserCreation": 10, "UserUpdate": 5}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.5
    job = preview(admin_user, new_people(4))
    jobs.job_start(actor=admin_user, job=job, background=False)
    with cognito.count_calls() as calls:
        tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk)
    assert sum(calls.values()) == 12 and bulk.progress(job)["created"] == 4
    step = cognito.quotas.interval(2.5)  # the slowest category's interval
    assert quota_clock.now == pytest.approx(3 * step, abs=1e-3)  # 4 group calls: 3 intervals of the slowest
    assert cognito.bucket_state("UserUpdate").next_at == pytest.approx(4 * step, abs=1e-3)
    last = 2 * step  # the 4th row's user was created in the slot the 3rd row's group call left, at 2 intervals
    assert cognito.bucket_state("UserCreation").next_at == pytest.approx(last + cognito.quotas.interval(5), abs=1e-3)


# --- The command ----------------------------------------------------------------------------------


def test_the_command_dry_run_prints_the_plan_and_leaves_nothing(admin_user, alice, bob, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_bytes(MIXED)
    call_command("import_users", str(path), "--actor", "admin@example.com")
    out = capsys.readouterr().out
    assert "line 2: create new.person@example.com: invite with role B2; applications: crm, hr" in out
    assert "line 4: update bob@example.com: role C3 → A2; grant docs; revoke hr" in out
    assert "1 create, 1 update, 1 unchanged, 1 error (4 rows)" in out and "Dry run: nothing was applied" in out
    assert not BulkJob.objects.exists() and not AuditEvent.objects.exists()


def test_the_command_applies_as_the_administrator(admin_user, alice, bob, tmp_path, capsys):
    path = tmp_path / "users.csv"
    path.write_bytes(MIXED)
    call_command("import_users", str(path), "--apply", "--actor", "Admin@Example.com")
    assert "done: 3 done (1 created, 1 updated, 1 unchanged), 0 failed, 1 skipped" in capsys.readouterr().out
    assert {actor for actor, *_ in changes_audited()} == {"admin@example.com"}
    assert roles_of("new.person@example.com") == ["0", "2", "0"]


def test_the_command_refuses_a_non_administrator_and_a_file_over_50_mb(helpdesk_identity, admin_identity, tmp_path):
    path = tmp_path / "big.csv"
    with path.open("wb") as sparse:
        sparse.truncate(50 * 1024 * 1024 + 1)  # sparse: nothing to read, and nothing is read
    with pytest.raises(CommandError, match="desk@example.com is not an enabled portal administrator"):
        call_command("import_users", str(path), "--actor", "desk@example.com")
    with pytest.raises(CommandError, match=r"The file is 50.0 MB and the limit is 50 MB"):
        call_command("import_users", str(path), "--actor", "admin@example.com")


def test_a_row_that_failed_half_way_is_reported_and_retrying_finishes_it(admin_client, admin_user):
    job = preview(admin_user, new_people(2))
    jobs.job_start(actor=admin_user, job=job)
    with cognito_fault("InvalidParameterException", operations={"AdminAddUserToGroup"}, times=1):
        run_worker()
    job.refresh_from_db()
    assert job.status == BulkJob.DONE
    failed = job.rows.get(outcome=BulkRow.FAILED)
    assert failed.message.startswith("Created, but granting crm failed:") and "Apply the row again" in failed.message
    page = admin_client.get(job_url(job)).content.decode()
    assert 'id="retry-failed"' in page

    admin_client.post(job_url(job, "resume"), {"retry": "failed"})
    run_worker()
    failed.refresh_from_db()
    assert (failed.outcome, failed.message) == ("updated", "grant crm")
    invites = AuditEvent.objects.filter(action="user_invite").order_by("target")
    assert [(event.target, event.outcome) for event in invites] == [
        ("person0@example.com", "failure"),
        ("person1@example.com", "success"),
    ]
    assert groups_of(failed.email) == ["app-crm"]


def test_an_upload_without_a_length_stops_being_read_at_the_limit(rf, settings):
    from django.core.files.uploadhandler import StopUpload

    from accounts.bulk.views import SizeLimitHandler

    settings.PORTAL_BULK_IMPORT_MAX_MB = 1
    request = rf.post("/")
    handler = SizeLimitHandler(request)
    assert handler.receive_data_chunk(b"x" * 65536, 1024 * 1024 - 65536) == b"x" * 65536  # up to the limit
    with pytest.raises(StopUpload) as stopped:
        handler.receive_data_chunk(b"x", 1024 * 1024)
    assert stopped.value.connection_reset and request.upload_too_large == 1024 * 1024 + 1
