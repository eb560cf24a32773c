"""Bulk jobs as audited services: start, resume, cancel (each one conditional update), and their queueing.

The engine (accounts/bulk/engine.py) applies the rows; the task that runs it on the workers, and the map of
a job's kind to its row function, are in accounts/tasks.py.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import tasks
from accounts.audit.attempt import Attempt, audited
from accounts.bulk import engine, imports
from accounts.models import BulkJob, BulkRow
from accounts.rules import permissions, reasons
from accounts.rules.errors import NOT_ALLOWED, ServiceError

SAID = {
    "not_startable": "This job was already started.",
    "still_reading": "This file is still being read: it can be applied once its preview is shown.",
    "refused": "This file was refused, so there is nothing to apply: correct it and upload it again.",
    "not_resumable": "Only an interrupted, finished or stalled job can be resumed; nothing was changed.",
    "not_cancellable": "This job is already finished or cancelled; nothing was changed.",
}
RESUMABLE = (BulkJob.INTERRUPTED, BulkJob.DONE)  # and an active job that stalled
CANCELLABLE = (BulkJob.READING, BulkJob.PREVIEW, *engine.ACTIVE, BulkJob.INTERRUPTED)
NOT_STARTABLE = {BulkJob.READING: "still_reading", BulkJob.PREVIEW: "still_reading", BulkJob.REFUSED: "refused"}


@contextmanager
def _on_job(*, actor, action: str, job: BulkJob, rule, request=None) -> Iterator[Attempt]:
    """Audit an attempt on a job however it ends, with the job's reason, refusing an actor the rule forbids."""
    attempt = Attempt(target=f"job {job.pk}", before={"status": job.status})
    with audited(actor=actor, action=action, request=request, attempt=attempt, reason=job.reason):
        if not rule(actor, job):
            raise PermissionDenied(NOT_ALLOWED)
        attempt.reason = reasons.reason_check(action=action, reason=job.reason)
        yield attempt


def job_start(*, actor, job: BulkJob, background: bool = True, request=None) -> None:
    """Apply a previewed job: queue it for the workers (or leave it to the caller with background=False)."""
    with _on_job(
        actor=actor, action=f"bulk_{job.kind}", job=job, rule=permissions.can_apply_job, request=request
    ) as attempt:
        if not BulkJob.objects.filter(pk=job.pk, status=BulkJob.PREVIEW, total__gt=0).update(status=BulkJob.QUEUED):
            job.refresh_from_db(fields=["status"])
            raise ServiceError(SAID[NOT_STARTABLE.get(job.status, "not_startable")])
        job.refresh_from_db()
        attempt.after = {"job": job.pk, "rows": job.total, "file": job.file_name, **job.action}
    if background:
        tasks.bulk_enqueue(job)


def job_resume(*, actor, job: BulkJob, failed_too: bool = False, background: bool = True, request=None) -> int:
    """Carry on with an interrupted, finished or stalled job (and its failed rows when asked); return rows put back."""
    with _on_job(
        actor=actor, action="bulk_resume", job=job, rule=permissions.can_steer_job, request=request
    ) as attempt:
        with transaction.atomic():
            resumable = Q(status__in=RESUMABLE) | engine.stalled_q()
            if not BulkJob.objects.filter(resumable, pk=job.pk).update(
                status=BulkJob.QUEUED, error="", finished_at=None
            ):
                raise ServiceError(SAID["not_resumable"])
            put_back = (
                job.rows.filter(state=BulkRow.DONE, outcome=BulkRow.FAILED).update(
                    state=BulkRow.PENDING, outcome="", claimed_by=""
                )
                if failed_too
                else 0
            )
        job.refresh_from_db()
        attempt.after = {"job": job.pk, "status": job.status, "retried": put_back}
    if background:
        tasks.bulk_enqueue(job)
    return put_back


def job_cancel(*, actor, job: BulkJob, request=None) -> None:
    """Stop a job: workers finish the row in hand and take no more."""
    with _on_job(
        actor=actor, action="bulk_cancel", job=job, rule=permissions.can_steer_job, request=request
    ) as attempt:
        if not BulkJob.objects.filter(pk=job.pk, status__in=CANCELLABLE).update(
            status=BulkJob.CANCELLED, finished_at=timezone.now()
        ):
            raise ServiceError(SAID["not_cancellable"])
        job.refresh_from_db()
        attempt.after = {"job": job.pk, "status": job.status}


def selection_apply(*, actor, job: BulkJob) -> dict | None:
    """Start the job: at once for a small selection (returning its progress), else in the background (None)."""
    inline = job.total <= settings.PORTAL_BULK_INLINE_MAX
    job_start(actor=actor, job=job, background=not inline)
    if not inline:
        return None
    return tasks.bulk_work(job_id=job.pk, actor_id=actor.pk, worker=f"inline:{engine.worker_name()}"[:64])


def import_upload(*, actor, binary, name: str, size: int, reason: str = "") -> BulkJob:
    """Store an uploaded file and queue its dry run for a worker; return the job, being read."""
    job = imports.import_store(actor=actor, binary=binary, name=name, size=size, reason=reason)
    tasks.import_read_run.enqueue(job_id=job.pk)
    return job
