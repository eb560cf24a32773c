"""Bulk jobs as audited services: start, resume and cancel change a job only from the states that allow it."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.bulk import actions as bulk_actions
from accounts.bulk import jobs
from accounts.directory import selectors, services
from accounts.models import AuditEvent, BulkJob, BulkRow
from accounts.rules import permissions

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(pool, make_cognito_user, admin_identity, helpdesk_identity):
    """Two ordinary users with the staff accounts, all in the directory."""
    make_cognito_user("amy@example.com", role=("a", 1))
    make_cognito_user("cat@example.com", role=("c", 3))
    services.directory_sync(actor="test")


def disable_job(actor, *emails: str) -> BulkJob:
    """Make (not start) a job disabling these users."""
    return bulk_actions.selection_job(
        actor=actor, action={"name": "disable"}, queryset=selectors.directory_entries().filter(email__in=emails)
    )


def job_url(job, name: str) -> str:
    """Return a job's admin URL: change, resume, cancel."""
    return reverse(f"admin:accounts_bulkjob_{name}", args=[job.pk])


def said(response) -> list[str]:
    """Return the messages left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def audited(action: str) -> list[tuple[str, str]]:
    """Return (target, outcome) of the audit events of one action, oldest first."""
    return list(AuditEvent.objects.filter(action=action).order_by("at", "id").values_list("target", "outcome"))


def test_cancelling_a_finished_job_is_refused_audited_as_a_failure_and_changes_nothing(
    admin_client, admin_user, people
):
    job = disable_job(admin_user, "cat@example.com")
    jobs.selection_apply(actor=admin_user, job=job)
    job.refresh_from_db()
    assert job.status == BulkJob.DONE

    response = admin_client.post(job_url(job, "cancel"))
    assert response.status_code == HTTPStatus.FOUND
    job.refresh_from_db()
    assert job.status == BulkJob.DONE
    assert audited("bulk_cancel") == [(f"job {job.pk}", AuditEvent.FAILURE)]
    assert said(response) == [jobs.SAID["not_cancellable"]]


def test_cancelling_a_running_job_stops_it_and_is_audited_as_a_success(admin_client, admin_user, people):
    job = disable_job(admin_user, "cat@example.com")
    jobs.job_start(actor=admin_user, job=job)
    response = admin_client.post(job_url(job, "cancel"))
    assert said(response) == ["Cancelled: the workers finish the row in hand and take no more."]
    job.refresh_from_db()
    assert job.status == BulkJob.CANCELLED and job.finished_at is not None
    assert audited("bulk_cancel") == [(f"job {job.pk}", AuditEvent.SUCCESS)]


def test_retrying_the_failed_rows_of_a_cancelled_job_is_refused_with_the_rows_untouched(
    admin_client, admin_user, people
):
    job = disable_job(admin_user, "admin@example.com", "cat@example.com")  # one's own account: that row fails
    jobs.selection_apply(actor=admin_user, job=job)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.CANCELLED)
    failed = job.rows.get(outcome=BulkRow.FAILED)

    response = admin_client.post(job_url(job, "resume"), {"retry": "failed"})
    failed.refresh_from_db()
    assert (failed.state, failed.outcome) == (BulkRow.DONE, BulkRow.FAILED)
    job.refresh_from_db()
    assert job.status == BulkJob.CANCELLED and not DBTaskResult.objects.exists()
    assert audited("bulk_resume") == [(f"job {job.pk}", AuditEvent.FAILURE)]
    assert said(response) == [jobs.SAID["not_resumable"]]


def test_resuming_a_queued_job_that_is_not_stalled_queues_no_more_tasks(admin_user, people, settings):
    job = disable_job(admin_user, "cat@example.com")
    jobs.job_start(actor=admin_user, job=job)
    assert DBTaskResult.objects.count() == settings.PORTAL_BULK_TASKS_PER_JOB

    with pytest.raises(services.ServiceError) as refused:
        jobs.job_resume(actor=admin_user, job=job)
    assert refused.value.message == jobs.SAID["not_resumable"]
    assert DBTaskResult.objects.count() == settings.PORTAL_BULK_TASKS_PER_JOB
    assert audited("bulk_resume") == [(f"job {job.pk}", AuditEvent.FAILURE)]


def test_a_stalled_job_is_resumed_and_queued_again(admin_user, people, settings):
    job = disable_job(admin_user, "cat@example.com")
    jobs.job_start(actor=admin_user, job=job)
    long_ago = timezone.now() - timedelta(seconds=settings.PORTAL_BULK_LEASE_SECONDS + 60)
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.RUNNING, started_at=long_ago, heartbeat_at=long_ago)

    assert jobs.job_resume(actor=admin_user, job=job) == 0
    job.refresh_from_db()
    assert job.status == BulkJob.QUEUED
    assert DBTaskResult.objects.count() == 2 * settings.PORTAL_BULK_TASKS_PER_JOB
    assert audited("bulk_resume") == [(f"job {job.pk}", AuditEvent.SUCCESS)]


def test_retrying_the_failed_rows_of_a_finished_job_puts_them_back(admin_user, people):
    job = disable_job(admin_user, "admin@example.com", "cat@example.com")
    jobs.selection_apply(actor=admin_user, job=job)
    assert jobs.job_resume(actor=admin_user, job=job, failed_too=True, background=False) == 1
    assert job.rows.get(email="admin@example.com").state == BulkRow.PENDING
    assert job.rows.get(email="cat@example.com").state == BulkRow.DONE


def test_applying_a_job_twice_is_refused_the_second_time_and_audited(admin_user, people, settings):
    job = disable_job(admin_user, "cat@example.com")
    jobs.job_start(actor=admin_user, job=job)
    with pytest.raises(services.ServiceError) as refused:
        jobs.job_start(actor=admin_user, job=job)
    assert refused.value.message == jobs.SAID["not_startable"]
    assert DBTaskResult.objects.count() == settings.PORTAL_BULK_TASKS_PER_JOB
    assert audited("bulk_action") == [(f"job {job.pk}", AuditEvent.SUCCESS), (f"job {job.pk}", AuditEvent.FAILURE)]


@pytest.mark.parametrize("service", ["job_start", "job_resume", "job_cancel"])
def test_an_actor_the_rule_refuses_is_denied_audited_and_nothing_changes(admin_user, helpdesk_user, people, service):
    job = disable_job(admin_user, "cat@example.com")
    if service != "job_start":
        jobs.job_start(actor=admin_user, job=job, background=False)
        BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.INTERRUPTED)
    before = BulkJob.objects.get(pk=job.pk).status
    with pytest.raises(PermissionDenied):
        getattr(jobs, service)(actor=helpdesk_user, job=job)
    assert BulkJob.objects.get(pk=job.pk).status == before
    action = {"job_start": "bulk_action", "job_resume": "bulk_resume", "job_cancel": "bulk_cancel"}[service]
    assert audited(action)[-1] == (f"job {job.pk}", AuditEvent.DENIED)


def test_the_job_list_shows_a_help_desk_member_only_their_own_jobs(helpdesk_client, admin_user, helpdesk_user, people):
    theirs = disable_job(admin_user, "cat@example.com")
    mine = bulk_actions.selection_job(
        actor=helpdesk_user,
        action={"name": "set_role", "role": "a", "level": 2},
        queryset=selectors.directory_entries().filter(email="amy@example.com"),
    )
    assert list(permissions.jobs_visible(helpdesk_user, BulkJob.objects.all())) == [mine]
    assert set(permissions.jobs_visible(admin_user, BulkJob.objects.all())) == {mine, theirs}
    page = helpdesk_client.get(reverse("admin:accounts_bulkjob_changelist")).content.decode()
    assert job_url(mine, "change") in page and job_url(theirs, "change") not in page
