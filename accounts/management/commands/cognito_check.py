"""manage.py cognito_check: the pool's health and security audit; non-zero exit when something is wrong."""

from django.core.management.base import BaseCommand, CommandError

from accounts import cognito, pool_checks


class Command(BaseCommand):
    help = ("Check the user pool: role attributes, app clients' write access and token lifetimes, groups, and "
            "users holding no role or several. Exit status 1 when something is wrong.")

    def handle(self, *args, **options):
        try:
            report = pool_checks.pool_check()
        except cognito.CognitoUnavailable as exc:
            raise CommandError(f"{exc}. Is COGNITO_ENDPOINT_URL right and the service up?", returncode=2) from None
        except cognito.CognitoError as exc:
            raise CommandError(f"Cognito refused: {exc.code or ''} {exc}", returncode=2) from None
        self.show(report)
        if not report.ok:
            raise CommandError(f"{len(report.findings)} problem(s) found.", returncode=1)
        self.stdout.write(self.style.SUCCESS("No problems found."))

    def show(self, report: pool_checks.Report) -> None:
        """Print every check with its findings."""
        self.stdout.write(f"pool {cognito.pool_id()}: {report.clients} app clients, {report.users} users")
        for name, findings in report.by_check().items():
            mark = self.style.SUCCESS("ok  ") if not findings else self.style.ERROR("FAIL")
            self.stdout.write(f"[{mark}] {pool_checks.CHECKS[name]}")
            for finding in findings:
                self.stdout.write(f"         - {finding.message}")
