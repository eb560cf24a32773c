"""Background tasks, run by `manage.py db_worker` (django-tasks with its database backend)."""

from django_tasks import task

from accounts import bulk


@task()
def bulk_run(job_id: int, actor_id: int) -> dict:
    """Apply a bulk job's rows as the administrator who started it; return its progress.

    Asked to stop (make run's Ctrl-C), the worker finishes the row in hand and queues the job again.
    """
    with bulk.stop_on_signal() as stop:
        return bulk.job_run(job_id=job_id, actor_id=actor_id, stop=stop)
