"""Background tasks, run by `manage.py db_worker` (django-tasks with its database backend), and their queueing.

The directory sync schedules itself: each run, however it ends, queues the next one
PORTAL_SYNC_INTERVAL_SECONDS later unless one is already waiting, so one chain of runs goes on for as long
as any worker runs. `manage.py cognito_sync --schedule` (make run calls it) starts the chain, or does
nothing when it is already going; "Refresh now" queues a run at once. The lease (accounts/sync_lease.py)
keeps two runs from overlapping, whichever machines their workers are on.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from accounts import cognito
from accounts.audit.attempt import audited
from accounts.audit.record import audit_record
from accounts.bulk import actions as bulk_actions
from accounts.bulk import engine as bulk
from accounts.bulk import imports
from accounts.directory import expiry, services, sync_lease
from accounts.events import delivery
from accounts.models import BulkJob, BulkRow, SyncState, User
from accounts.reviews import deadline as review_deadline
from accounts.reviews import decisions as review_decisions
from accounts.reviews.words import REVIEW_ACTOR
from accounts.rules import permissions
from accounts.rules.errors import NOT_ALLOWED
from accounts.signin import tokens

SCHEDULE = "scheduled sync"
REQUESTED = "Refresh now by {who}"


def _import_row(*, actor, job: BulkJob, row: BulkRow, worker: str) -> tuple[str, str]:
    """Apply one line of an import file (a row taken over from a worker that died may find its user made)."""
    taken_over = row.attempts > 1 and row.plan == BulkRow.CREATE
    return imports.row_apply(actor=actor, data=row.data, taken_over_by=worker if taken_over else "", reason=job.reason)


def _action_row(*, actor, job: BulkJob, row: BulkRow, worker: str) -> tuple[str, str]:
    """Apply a bulk action to one user of the selection."""
    return bulk_actions.row_apply(actor=actor, action=job.action, sub=row.sub, reason=job.reason)


def _review_row(*, actor, job: BulkJob, row: BulkRow, worker: str) -> tuple[str, str]:
    """Apply one decision to revoke of an access review (as the process "review", whoever started the job)."""
    return review_decisions.item_apply(item_id=row.data["item"], reason=job.reason)


ROW_FUNCTIONS = {BulkJob.IMPORT: _import_row, BulkJob.ACTION: _action_row, BulkJob.REVIEW: _review_row}


def bulk_enqueue(job: BulkJob, tasks: int = 0) -> None:
    """Queue the job's tasks for the workers (several, so that several workers can share a large job)."""
    for _ in range(tasks or settings.PORTAL_BULK_TASKS_PER_JOB):
        bulk_run.enqueue(job_id=job.pk, actor_id=job.created_by_id)


def bulk_work(*, job_id: int, actor_id: int, worker: str = "", limit: int | None = None, stop=None) -> dict:
    """Apply a job's rows with its kind's row function as `actor_id`; return its progress.

    Stopped with rows left, it queues the job again, so that the next worker carries on.
    """
    job, actor = BulkJob.objects.get(pk=job_id), User.objects.get(pk=actor_id)
    result = bulk.job_run(
        job=job, actor=actor, row_function=ROW_FUNCTIONS[job.kind], worker=worker, limit=limit, stop=stop
    )
    if result["stopped"]:
        bulk_enqueue(job, tasks=1)
    return result


@task()
def bulk_run(job_id: int, actor_id: int) -> dict:
    """Apply a bulk job's rows as the administrator who started it; return its progress.

    Asked to stop (make run's Ctrl-C), the worker finishes the row in hand and queues the job again.
    """
    with bulk.stop_on_signal() as stop:
        return bulk_work(job_id=job_id, actor_id=actor_id, stop=stop)


@task()
def import_read_run(job_id: int) -> dict:
    """Plan an uploaded import file (its dry run) in short batched transactions; return how it ended."""
    return imports.import_read(job_id=job_id)


@task()
def directory_sync_run(requested_by: str = "") -> dict:
    """Reconcile the directory with the pool (audited by the sync itself), then queue the next scheduled run."""
    actor = REQUESTED.format(who=requested_by) if requested_by else SCHEDULE
    with bulk.stop_on_signal() as stop:
        try:
            report = services.directory_sync(actor=actor, stop=stop)
        except sync_lease.SyncBusy as exc:
            return {"ran": False, "why": str(exc)}
        except (services.ServiceError, cognito.CognitoError) as exc:
            return {"ran": True, "error": getattr(exc, "message", "") or str(exc)}
        finally:
            sync_schedule(at_once=stop.is_set())  # asked to stop: the next worker to start carries on
    return {"ran": True, "users": report.users, "calls": report.calls}


def _waiting():
    """Return the queued sync runs no worker has taken yet."""
    return DBTaskResult.objects.filter(task_path=directory_sync_run.module_path, status="READY")


def sync_schedule(*, at_once: bool = False) -> bool:
    """Queue the next scheduled sync unless one is waiting already; return True when one was queued."""
    if _waiting().exists():
        return False
    delay = 0 if at_once else settings.PORTAL_SYNC_INTERVAL_SECONDS
    directory_sync_run.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue()
    return True


def directory_sync_request(*, actor, request=None) -> None:
    """Queue a sync to run at once ("Refresh now"); a web request never runs one itself."""
    with audited(actor=actor, action="directory_sync_request", request=request) as attempt:
        if not permissions.can_view_directory(actor):
            raise PermissionDenied(NOT_ALLOWED)
        label = actor.email or actor.get_username()
        now = timezone.now()
        SyncState.objects.filter(pk=sync_lease.state().pk).update(requested_by=label[:254], requested_at=now)
        already = _waiting().filter(run_after__lte=now).exists()
        if not already:
            directory_sync_run.using(run_after=now).enqueue(requested_by=label)
        attempt.after = {"queued": not already}


# --- The expiry sweep: scheduled like the sync, each run queuing the next ------------------------------------


@task()
def expiry_sweep_run() -> dict:
    """End the access whose end has come (Cognito made to match), email the granters, queue the next run."""
    report = None
    with bulk.stop_on_signal() as stop, cognito.quota_paced():  # each call waits for its quota bucket's slot
        try:
            report = expiry.sweep(stop=stop)
        finally:
            expiry_schedule(at_once=bool(report and report.more) or stop.is_set())
    return dict(report.counts)


def _sweeps_waiting():
    """Return the queued sweep runs no worker has taken yet."""
    return DBTaskResult.objects.filter(task_path=expiry_sweep_run.module_path, status="READY")


def expiry_schedule(*, at_once: bool = False) -> bool:
    """Queue the next sweep unless one is waiting already; return True when one was queued.

    A run queued for a time when no worker ran is taken by the first worker to start: the sweep catches up.
    """
    if _sweeps_waiting().exists():
        return False
    delay = 0 if at_once else settings.PORTAL_EXPIRY_SWEEP_SECONDS
    expiry_sweep_run.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue()
    return True


# --- Events to the applications (accounts/events/delivery.py) --------------------------------------------


@task()
def events_deliver_run() -> dict:
    """Send the due event deliveries, then queue the next run for when the next retry is due."""
    with bulk.stop_on_signal() as stop:
        try:
            tried = delivery.deliver_due(pool_issuer=tokens.issuer(), stop=stop)
        finally:
            events_schedule(at=delivery.next_due())
    return {"tried": tried}


def events_schedule(*, at=None) -> bool:
    """Queue a delivery run for `at` (by default when the next delivery is due) unless one waits that runs by
    then; return True when one was queued."""
    at = at or delivery.next_due()
    if at is None:
        return False
    at = max(at, timezone.now())
    waiting = DBTaskResult.objects.filter(task_path=events_deliver_run.module_path, status="READY")
    if waiting.filter(run_after__lte=at).exists():
        return False
    events_deliver_run.using(run_after=at).enqueue()
    return True


# --- Access review campaigns: one tick at each reminder and deadline, and every PORTAL_REVIEW_TICK_SECONDS ---


@task()
def review_tick_run() -> dict:
    """Check the open campaigns (standing, reminders, deadlines), resume their revocations, queue the next tick."""
    try:
        report = review_deadline.campaigns_tick()
        for job in report["jobs"]:
            bulk_enqueue(job)
        report["jobs"] = [job.pk for job in report["jobs"]]
        report["resumed"] = [job.pk for job in review_revocations_resume()]
    finally:
        review_schedule()
    return report


def review_revocations_resume() -> list[BulkJob]:
    """Queue again the access reviews' revocation jobs that were interrupted (throttling, outage) or stalled."""
    stuck = BulkJob.objects.filter(Q(status=BulkJob.INTERRUPTED) | bulk.stalled_q(), kind=BulkJob.REVIEW)
    resumed = []
    for job in stuck:
        if BulkJob.objects.filter(pk=job.pk, status=job.status).update(status=BulkJob.QUEUED, error=""):
            audit_record(
                actor=REVIEW_ACTOR,
                action="review_resume",
                target=f"job {job.pk}",
                before={"error": job.error[:500]},
            )
            bulk_enqueue(job, tasks=1)
            resumed.append(job)
    return resumed


def review_schedule() -> bool:
    """Queue the next tick when one is needed sooner than any waiting; return True when one was queued."""
    moment = review_deadline.next_tick()
    if moment is None:
        return False
    waiting = DBTaskResult.objects.filter(task_path=review_tick_run.module_path, status="READY")
    if waiting.filter(run_after__lte=moment).exists():
        return False
    review_tick_run.using(run_after=moment).enqueue()
    return True
