"""Helpers of the bulk-work tests: CSV files and the task runner's worker, driven deterministically."""

import io
from unittest import mock

from django_tasks_db.management.commands.db_worker import Worker

from accounts.bulk import imports

HEADER = "email,name,role,level,applications\n"


def csv_bytes(*lines: str, header: str = HEADER, bom: bool = False) -> bytes:
    """Return a CSV file's bytes: the header, then one line per argument."""
    text = header + "".join(line + "\n" for line in lines)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def preview(actor, data: bytes, name: str = "users.csv"):
    """Run the dry run on these bytes; return the preview job."""
    return imports.import_preview(actor=actor, binary=io.BytesIO(data), name=name, size=len(data))


def run_worker(max_tasks: int | None = None) -> int:
    """Run django-tasks-db's worker in this thread until the queue is empty (--batch); return the tasks run.

    The worker closes stale connections between tasks; on PostgreSQL that would close the connection that
    holds the test's transaction (as Django's own test cases prevent for requests), so it is left open here.
    """
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        worker = Worker(
            queue_names=["default"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id="test-worker",
            excluded_queue_names=[],
        )
        worker.run()
    return worker._run_tasks


def outcomes(job) -> dict[str, tuple[str, str]]:
    """Return {email: (outcome, message)} for a job's applied rows."""
    return {row.email: (row.outcome, row.message) for row in job.rows.order_by("number")}
