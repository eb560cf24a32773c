"""manage.py cognito_check: the pool's health and security audit; non-zero exit when something is wrong."""

from django.core.management.base import BaseCommand, CommandError

from accounts import cognito
from accounts.pool import checks as pool_checks
from accounts.rules import roles, words
from accounts.rules.permissions import CommandActor


def role_argument(value: str) -> roles.Role:
    """Parse ROLE:LEVEL (e.g. a:1) into a Role, or raise CommandError."""
    name, _, level = value.partition(":")
    try:
        return roles.validate_role(name, int(level) if level.isdigit() else -1)
    except roles.RoleError as exc:
        raise CommandError(f"--default-role {value!r}: {exc} Write it as ROLE:LEVEL, e.g. a:1.") from None


class Command(BaseCommand):
    help = (
        "Check the user pool: role attributes, app clients' write access and token lifetimes, groups, and "
        "users holding no role or several. Exit status 1 when something is wrong (2: Cognito unreachable)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Repair role drift through the role-change service (audited): restore the role "
            "the portal last set, else keep the least privileged role held, else use "
            "--default-role. Other problems are only reported.",
        )
        parser.add_argument(
            "--default-role",
            metavar="ROLE:LEVEL",
            help="With --fix, the role for drifted users who have nothing to restore (e.g. a:1).",
        )
        parser.add_argument(
            "--reason", default="", help="With --fix, the reason or ticket each repair is audited with."
        )

    def handle(self, *args, fix=False, default_role=None, reason="", **options):
        default = role_argument(default_role) if default_role else None
        report = self.run_checks()
        self.show(report)
        if fix and report.drift():
            actor = CommandActor("manage.py cognito_check --fix")
            for finding in report.drift():
                repair = pool_checks.drift_fix(finding, actor=actor, default=default, reason=reason)
                self.stdout.write(f"fix: {finding.subject}: {repair.outcome}")
            report = self.run_checks()
            self.stdout.write("after --fix:")
            self.show(report)
        if not report.ok:
            raise CommandError(f"{words.counted(len(report.findings), 'problem')} found.", returncode=1)
        self.stdout.write(self.style.SUCCESS("No problems found."))

    def run_checks(self) -> pool_checks.Report:
        """Run every check, turning Cognito failures into exit status 2."""
        try:
            return pool_checks.pool_check()
        except cognito.CognitoUnavailable as exc:
            raise CommandError(f"{exc}. Is COGNITO_ENDPOINT_URL right and the service up?", returncode=2) from None
        except cognito.CognitoError as exc:
            raise CommandError(f"Cognito refused: {exc.code or ''} {exc}", returncode=2) from None

    def show(self, report: pool_checks.Report) -> None:
        """Print every check with its findings."""
        clients, users = words.counted(report.clients, "app client"), words.counted(report.users, "user")
        self.stdout.write(f"pool {cognito.pool_id()}: {clients}, {users}")
        for name, findings in report.by_check().items():
            mark = self.style.SUCCESS("ok  ") if not findings else self.style.ERROR("FAIL")
            self.stdout.write(f"[{mark}] {pool_checks.CHECKS[name]}")
            for finding in findings:
                self.stdout.write(f"         - {finding.message}")
