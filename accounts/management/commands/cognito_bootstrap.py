"""manage.py cognito_bootstrap: bring the user pool to the portal's shape."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from accounts import cognito
from accounts.applications import services as app_services
from accounts.pool.bootstrap import BootstrapConflict, bootstrap
from accounts.rules.permissions import CommandActor


class Command(BaseCommand):
    help = "Create or complete the user pool, app clients, groups and first administrator. Never deletes."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the plan; change nothing.")
        parser.add_argument("--write-env", metavar="PATH", help="Write the pool and client IDs to this env file.")
        parser.add_argument(
            "--seed-demo",
            metavar="PASSWORD",
            help="Also create a help-desk account and demo users with this password (embedded emulator only).",
        )

    def handle(self, *args, dry_run=False, write_env=None, seed_demo=None, **options):
        if seed_demo and not settings.COGNITO_EMBEDDED:
            raise CommandError("--seed-demo is refused unless COGNITO_EMBEDDED=true (a real pool gets no demo users).")
        try:
            report = bootstrap(dry_run=dry_run, demo_password=seed_demo or "")
        except BootstrapConflict as exc:
            raise CommandError(str(exc)) from None
        except cognito.CognitoUnavailable as exc:
            raise CommandError(f"{exc}. Is COGNITO_ENDPOINT_URL right and the service up?") from None
        except cognito.CognitoError as exc:
            raise CommandError(f"Cognito refused: {exc.code or ''} {exc}") from None
        for line in report.lines or ["nothing to do: the pool is already in shape"]:
            self.stdout.write(f"  {line}")
        self.stdout.write(
            f"pool {report.pool_id or '(to be created)'}, portal client {report.client_id or '(to be created)'}"
        )
        for label, email, password in report.credentials:
            self.stdout.write(self.style.WARNING(f"{label}: {email} / {password}  (shown once)"))
        if not dry_run:
            self.link_registry(report)
        if write_env and not dry_run:
            Path(write_env).parent.mkdir(parents=True, exist_ok=True)
            Path(write_env).write_text(report.env())
            Path(write_env).chmod(0o600)

    def link_registry(self, report) -> None:
        """Store each application's own app client ID in the registry (it must be migrated first)."""
        try:
            with cognito.target(report.pool_id, report.client_id, report.client_secret):
                result = app_services.applications_refresh(actor=CommandActor("manage.py cognito_bootstrap"))
        except DatabaseError:
            self.stderr.write(
                "warning: the registry could not be updated (run manage.py migrate, then "
                "“Refresh from Cognito” in the registry) to record each application's app client."
            )
            return
        for name in result["clients"]:
            self.stdout.write(f"  registry: {name} uses app client {report.application_clients.get(name, '?')}")
