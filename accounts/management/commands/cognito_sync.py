"""manage.py cognito_sync: reconcile the directory index with the whole Cognito pool (or start its schedule)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import cognito, tasks
from accounts.directory import services, sync_lease


class Command(BaseCommand):
    help = (
        "Reconcile the directory with the pool: add, update and remove rows, and print the counts. "
        "--schedule instead starts the task workers' periodic sync and expiry sweep (nothing when already going)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Queue a sync for the task workers (now when one is due); each run queues the next.",
        )

    def handle(self, *args, schedule=False, **options):
        if schedule:
            at_once = sync_lease.due()
            queued = tasks.sync_schedule(at_once=at_once)
            when = "was already queued" if not queued else "runs now" if at_once else "is queued"
            self.stdout.write(
                f"directory sync scheduled every {settings.PORTAL_SYNC_INTERVAL_SECONDS} s on the "
                f"task workers; the next one {when}"
            )
            swept = tasks.expiry_schedule(at_once=True)  # a worker that was down catches up when it starts
            self.stdout.write(
                f"expiry sweep scheduled every {settings.PORTAL_EXPIRY_SWEEP_SECONDS} s; "
                f"the next one {'runs now' if swept else 'was already queued'}"
            )
            if tasks.review_schedule():  # after a downtime: the open access reviews' next check
                self.stdout.write("access reviews: the workers' next check of the open campaigns is queued")
            return
        try:
            report = services.directory_sync(actor="manage.py cognito_sync")
        except sync_lease.SyncBusy as exc:
            raise CommandError(str(exc)) from exc
        except services.ServiceError as exc:
            raise CommandError(f"{exc.message} Nothing was removed from the directory.") from exc
        except cognito.CognitoError as exc:
            raise CommandError(f"Cognito failed, nothing was removed from the directory: {exc}") from exc
        for group in report.missing_groups:
            self.stderr.write(f"warning: group {group} does not exist in the pool")
        counts = report.counts
        self.stdout.write(
            f"users={report.users} added={counts['added']} updated={counts['updated']} removed={counts['removed']} "
            f"unchanged={counts['unchanged']} skipped={counts['skipped']} calls={report.calls} "
            f"minimum={report.minimum_calls}+{report.staff_calls} seconds="
            f"{(report.finished - report.started).total_seconds():.2f}"
        )
