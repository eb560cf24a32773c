"""Bulk jobs: rows claimed one at a time by any number of workers and threads, paced by Cognito quota category.

- A row is claimed with a compare-and-set UPDATE (state and owner unchanged since read), so two workers on
  any machines never hold the same row. A claim is a lease: a row whose worker died is claimed again once
  the lease has passed, and applying it again is safe because a row is judged on a fresh reading of the user.
- Every Cognito call a job makes waits for a slot of its quota category's bucket (cognito.quota_paced), kept
  in the database, so each category's rate holds for all workers together; a worker applies a job's rows in
  PORTAL_BULK_THREADS threads, so that one worker alone reaches those rates against a slow Cognito.
- Throttling that outlasts the gateway's retries, or Cognito out of reach, puts the row back and stops the
  job as interrupted, with the reason; a resume carries on with the rows not done.
"""

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts import cognito
from accounts.models import BulkJob, BulkRow
from accounts.rules.errors import NOT_ALLOWED, ServiceError

logger = logging.getLogger("accounts.bulk")
RowFunction = Callable[..., tuple[str, str]]  # (*, actor, job, row, worker) -> (outcome, message)

SAID = {
    "throttled": "Cognito kept throttling after every retry ({error}) at line {number}. {done} rows are done; "
    "resume to carry on with the {remaining} left.",
    "unavailable": "Cognito could not be reached ({error}) at line {number}. {done} rows are done; "
    "resume to carry on with the {remaining} left.",
    "unexpected": "Unexpected error ({error}); the row was not finished.",
}
ACTIVE = (BulkJob.QUEUED, BulkJob.RUNNING)
HANDOFF_SECONDS = 3  # a run inside a web request leaves the rest to the workers when less Cognito time is left


def worker_name() -> str:
    """Return this worker's name: host, process and thread."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 100000}"


# --- Rows ---------------------------------------------------------------------------------------------


def row_claim(job: BulkJob, worker: str) -> BulkRow | None:
    """Claim the next pending row (or one whose worker's lease ran out); None when there is none to claim."""
    while True:
        now = timezone.now()
        free = Q(state=BulkRow.PENDING) | Q(state=BulkRow.CLAIMED, lease_until__lt=now)
        candidates = list(
            job.rows.filter(free).order_by("state", "number").values_list("pk", "state", "claimed_by")[:8]
        )
        if not candidates:
            return None
        for pk, state, owner in candidates:
            won = BulkRow.objects.filter(pk=pk, state=state, claimed_by=owner).update(
                state=BulkRow.CLAIMED,
                claimed_by=worker,
                lease_until=now + timedelta(seconds=settings.PORTAL_BULK_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
            if won:
                return BulkRow.objects.get(pk=pk)


def row_finish(row: BulkRow, worker: str, outcome: str, message: str) -> bool:
    """Record a row's outcome, if this worker still holds it; return True when recorded."""
    now = timezone.now()
    kept = BulkRow.objects.filter(pk=row.pk, state=BulkRow.CLAIMED, claimed_by=worker).update(
        state=BulkRow.DONE, outcome=outcome, message=message[:4000], finished_at=now, lease_until=None
    )
    BulkJob.objects.filter(pk=row.job_id).update(heartbeat_at=now)
    return bool(kept)


def row_release(row: BulkRow, worker: str) -> None:
    """Give a claimed row back, untouched, for a later run."""
    BulkRow.objects.filter(pk=row.pk, claimed_by=worker).update(state=BulkRow.PENDING, claimed_by="", lease_until=None)


# --- Progress -----------------------------------------------------------------------------------------


def progress(job: BulkJob) -> dict:
    """Return the job's counts: done (by outcome), failed, skipped, remaining; two grouped queries."""
    states = dict(job.rows.values_list("state").annotate(n=Count("id")).order_by())
    outcomes = dict(job.rows.filter(state=BulkRow.DONE).values_list("outcome").annotate(n=Count("id")).order_by())
    failed = outcomes.get(BulkRow.FAILED, 0)
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "total": job.total,
        "done": states.get(BulkRow.DONE, 0) - failed,
        "failed": failed,
        "skipped": states.get(BulkRow.SKIPPED, 0),
        "remaining": states.get(BulkRow.PENDING, 0) + states.get(BulkRow.CLAIMED, 0),
        "in_progress": states.get(BulkRow.CLAIMED, 0),
        "created": outcomes.get(BulkRow.CREATED, 0),
        "updated": outcomes.get(BulkRow.UPDATED, 0),
        "unchanged": outcomes.get(BulkRow.UNCHANGED, 0),
        "finished": job.status not in ACTIVE,
        "error": job.error,
        "stalled": stalled(job),
    }


def _stall_limit() -> timedelta:
    """Return how long an active job may show no progress before it counts as stalled."""
    return timedelta(seconds=settings.PORTAL_BULK_LEASE_SECONDS + 30)


def stalled(job: BulkJob) -> bool:
    """Return True when an active job (or a file being read) has shown no progress for longer than a lease."""
    last = job.heartbeat_at or job.started_at or job.created_at
    return job.status in (*ACTIVE, BulkJob.READING) and last is not None and timezone.now() - last > _stall_limit()


def stalled_q() -> Q:
    """Return stalled() as a condition on the jobs' table, for a conditional update."""
    before = timezone.now() - _stall_limit()
    quiet = (
        Q(heartbeat_at__lt=before)
        | Q(heartbeat_at=None, started_at__lt=before)
        | Q(heartbeat_at=None, started_at=None, created_at__lt=before)
    )
    return Q(status__in=ACTIVE) & quiet


# --- Finishing -----------------------------------------------------------------------------------------


def _finish_if_complete(job: BulkJob) -> bool:
    """Mark the job done when no row is left to apply; return True when it is done."""
    left = job.rows.filter(state__in=[BulkRow.PENDING, BulkRow.CLAIMED]).exists()
    if not left:
        BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(status=BulkJob.DONE, finished_at=timezone.now())
    return not left


def _interrupt(job: BulkJob, row: BulkRow, exc: cognito.CognitoFault) -> None:
    """Stop the job as interrupted, saying why and how far it got."""
    counts = progress(job)
    said = "throttled" if isinstance(exc, cognito.Throttled) else "unavailable"
    reason = SAID[said].format(
        error=exc.code or exc, number=row.number, done=counts["done"] + counts["failed"], remaining=counts["remaining"]
    )
    BulkJob.objects.filter(pk=job.pk, status__in=ACTIVE).update(status=BulkJob.INTERRUPTED, error=reason)


# --- Running --------------------------------------------------------------------------------------------


def _apply(job: BulkJob, actor, row: BulkRow, worker: str, row_function: RowFunction) -> tuple[str, str]:
    """Apply one row with the job's row function; a refusal is the row's failure, outages are raised."""
    try:
        return row_function(actor=actor, job=job, row=row, worker=worker)
    except ServiceError as exc:
        return BulkRow.FAILED, exc.message
    except PermissionDenied:
        return BulkRow.FAILED, NOT_ALLOWED


def _out_of_time() -> bool:
    """Return True inside a web request whose Cognito budget is nearly spent (a background run has none)."""
    left = cognito.remaining()
    return left is not None and left < HANDOFF_SECONDS


def _next_row(job: BulkJob, worker: str, stop: threading.Event) -> BulkRow | None:
    """Claim a row; when only other workers' rows are left, wait for them (or for their leases to run out)."""
    if _out_of_time():
        stop.set()  # the request's time is nearly up: the workers carry on
    while not stop.is_set():
        row = row_claim(job, worker)
        if row is not None or _finish_if_complete(job):
            return row
        job.refresh_from_db(fields=["status"])
        if job.status not in ACTIVE:
            return None
        stop.wait(0.5)
    return None


@contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """Turn SIGINT/SIGTERM into a request to stop between rows (in a worker's main thread only).

    The first signal also reaches the worker's own handler (it stops after this task); later ones are kept
    from it, so that the row in hand is finished rather than cut off.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def handler(number, frame):
        first = not stop.is_set()
        stop.set()
        if first and callable(previous[number]):
            previous[number](number, frame)

    for number in previous:
        signal.signal(number, handler)
    try:
        yield stop
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


class Allowance:
    """How many more rows a run may start, shared by its threads (None: no limit)."""

    def __init__(self, limit: int | None):
        self.left, self._lock = limit, threading.Lock()

    def take(self) -> bool:
        """Return True when one more row may be started, counting it."""
        with self._lock:
            if self.left is None:
                return True
            self.left -= 1
            return self.left >= 0


def _run_rows(job: BulkJob, actor, row_function: RowFunction, worker: str, stop: threading.Event, allowance) -> None:
    """Claim and apply rows in this thread, its Cognito calls paced by quota category, until none is left."""
    with cognito.quota_paced():
        while job.status in ACTIVE and allowance.take():
            row = _next_row(job, worker, stop)
            if row is None:
                break
            try:
                outcome, message = _apply(job, actor, row, worker, row_function)
            except cognito.CognitoFault as exc:
                row_release(row, worker)
                _interrupt(job, row, exc)
                break
            except Exception as exc:  # a bug must not leave the row claimed for ever
                logger.exception("bulk job %s line %s failed", job.pk, row.number)
                outcome, message = BulkRow.FAILED, SAID["unexpected"].format(error=exc.__class__.__name__)
            row_finish(row, worker, outcome, message)
            job.refresh_from_db(fields=["status"])


def _run_thread(job_id: int, actor, row_function: RowFunction, worker: str, stop: threading.Event, allowance) -> None:
    """Apply rows in a thread of the pool, with its own job object and database connection (closed at the end)."""
    try:
        _run_rows(BulkJob.objects.get(pk=job_id), actor, row_function, worker, stop, allowance)
    finally:
        connection.close()


def threads_for_run() -> int:
    """Return how many threads apply a run's rows: one inside a web request (its budget), else PORTAL_BULK_THREADS."""
    return 1 if cognito.remaining() is not None else settings.PORTAL_BULK_THREADS


def job_run(
    *,
    job: BulkJob,
    actor,
    row_function: RowFunction,
    worker: str = "",
    limit: int | None = None,
    stop: threading.Event | None = None,
) -> dict:
    """Apply a queued job's rows with `row_function` until none is left (or `limit` rows, or `stop` is set).

    Rows are applied by threads_for_run() threads, each claiming its own (as `worker`/n). Return the job's
    progress, with `stopped` True when `stop` cut it short with rows left (the caller queues it again, so
    that the next worker carries on).
    """
    worker, stop = worker or worker_name(), stop or threading.Event()
    BulkJob.objects.filter(pk=job.pk, status=BulkJob.QUEUED).update(status=BulkJob.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    allowance, threads = Allowance(limit), threads_for_run()
    if threads == 1:
        _run_rows(job, actor, row_function, worker, stop, allowance)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bulk") as pool:
            runs = [
                pool.submit(_run_thread, job.pk, actor, row_function, f"{worker}/{n}", stop, allowance)
                for n in range(threads)
            ]
        for run in runs:
            run.result()  # a thread's own failure (not a row's) is raised here
    job.refresh_from_db()
    return {**progress(job), "stopped": stop.is_set() and job.status in ACTIVE}
