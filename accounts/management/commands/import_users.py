"""manage.py import_users FILE: preview a CSV import (a dry run), or apply it with --apply."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import cognito, tasks
from accounts.bulk import imports, jobs
from accounts.directory import selectors, services
from accounts.models import BulkJob, BulkRow
from accounts.rules import permissions, words
from accounts.signin.backend import shadow_user
from accounts.signin.tokens import Claims


class DryRun(Exception):
    """Raised to roll the preview back: a dry run leaves nothing behind."""


def administrator(email: str):
    """Return the local user of a portal administrator, checked live in Cognito (created if never signed in)."""
    try:
        view = selectors.user_by_email_live(services.valid_email(email))
    except services.InvalidInput as exc:
        raise CommandError(f"--actor: {exc.message}") from None
    if view is None or not view.user.enabled or permissions.standing_for_groups(view.groups) != permissions.ADMIN:
        raise CommandError(f"--actor: {email} is not an enabled portal administrator in Cognito.")
    claims = Claims(raw={"sub": view.user.sub, "email": view.user.email, "name": view.user.name})
    return shadow_user(claims, permissions.ADMIN)


class Command(BaseCommand):
    help = (
        "Preview a CSV import of users (email,name,role,level,applications): nothing is applied unless "
        "--apply is given. Applying runs here, or with --background in the db_worker processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the CSV file (UTF-8, with or without BOM, header row first)")
        parser.add_argument("--apply", action="store_true", help="apply the rows (default: a dry run)")
        parser.add_argument(
            "--actor",
            default=settings.PORTAL_ADMIN_EMAIL,
            help="the administrator the changes are made and audited as (default: PORTAL_ADMIN_EMAIL)",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="the reason or ticket every row's change is audited with (PORTAL_REASON_REQUIRED)",
        )
        parser.add_argument("--background", action="store_true", help="queue the job for db_worker and return")
        parser.add_argument("--resume", type=int, metavar="JOB", help="carry on with an interrupted import")

    def handle(self, *args, file=None, apply=False, actor="", background=False, resume=None, reason="", **options):
        self.verbosity = options.get("verbosity", 1)
        if not actor:
            raise CommandError("Name the administrator with --actor EMAIL (or set PORTAL_ADMIN_EMAIL).")
        try:
            user = administrator(actor)
            if resume is not None:
                job = BulkJob.objects.filter(pk=resume, kind=BulkJob.IMPORT).first()
                if job is None:
                    raise CommandError(f"No import job {resume}.")
                jobs.job_resume(actor=user, job=job, background=background)
                return self._run(job, background)
            if not file:
                raise CommandError("Give the CSV file to import.")
            job = self._preview(user, file, apply, reason)
            if job is None:
                return
        except (services.ServiceError, cognito.CognitoError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        jobs.job_start(actor=user, job=job, background=background)
        return self._run(job, background)

    def _preview(self, user, path: str, apply: bool, reason: str) -> BulkJob | None:
        """Plan the file and print the plan; keep the job only when it is to be applied."""
        try:
            imports.size_check(os.path.getsize(path))
            with transaction.atomic(), open(path, "rb") as binary:
                job = imports.import_preview(
                    actor=user, binary=binary, name=os.path.basename(path), size=os.path.getsize(path), reason=reason
                )
                self._print_plan(job)
                if not apply:
                    raise DryRun
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        except imports.FileError as exc:
            raise CommandError(exc.message) from None
        except DryRun:
            self.stdout.write("Dry run: nothing was applied. Add --apply to apply it.")
            return None
        return job

    def _print_plan(self, job: BulkJob) -> None:
        """Print each row's plan (unchanged rows only with -v 2), then the counts."""
        counts = dict.fromkeys((BulkRow.CREATE, BulkRow.UPDATE, BulkRow.UNCHANGED, BulkRow.ERROR), 0)
        for row in job.rows.order_by("number").iterator(chunk_size=1000):
            counts[row.plan] += 1
            if row.plan != BulkRow.UNCHANGED or self.verbosity > 1:
                self.stdout.write(f"line {row.number}: {row.plan} {row.email}: {row.detail}".rstrip(": "))
        self.stdout.write(
            ", ".join(f"{count} {plan}" for plan, count in counts.items()) + f" ({words.counted(job.total, 'row')})"
        )

    def _run(self, job: BulkJob, background: bool) -> None:
        """Apply the job here (or leave it to the workers), then print how it ended."""
        if background:
            self.stdout.write(f"Job {job.pk} queued for the workers (manage.py db_worker).")
            return
        result = tasks.bulk_work(job_id=job.pk, actor_id=job.created_by_id)
        self.stdout.write(
            f"Job {job.pk}: {result['status']}: {result['done']} done ({result['created']} created, "
            f"{result['updated']} updated, {result['unchanged']} unchanged), {result['failed']} failed, "
            f"{result['skipped']} skipped, {result['remaining']} remaining."
        )
        for row in job.rows.filter(outcome=BulkRow.FAILED).order_by("number"):
            self.stderr.write(f"line {row.number}: failed {row.email}: {row.message}")
        if result["error"]:
            raise CommandError(f"{result['error']} (manage.py import_users --resume {job.pk})")
        if result["failed"]:
            raise CommandError(f"{result['failed']} rows failed.")
