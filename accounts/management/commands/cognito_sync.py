"""manage.py cognito_sync: reconcile the directory index with the whole Cognito pool."""

from django.core.management.base import BaseCommand, CommandError

from accounts import cognito, services


class Command(BaseCommand):
    help = "Reconcile the directory with the pool: add, update and remove rows, and print the counts."

    def handle(self, *args, **options):
        try:
            report = services.directory_sync(actor="manage.py cognito_sync")
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
