"""Bulk work screens, inside the admin site: the CSV upload, a job's preview, progress and report.

The upload refuses a file over the limit from its Content-Length, before the body is read (so before the
CSRF check, which would parse it); otherwise it checks CSRF as every write does.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit.forms import ReasonForm
from accounts.bulk import actions as bulk_actions
from accounts.bulk import engine as bulk
from accounts.bulk import imports, jobs
from accounts.bulk.forms import BulkParametersForm, ImportForm, ResumeForm
from accounts.directory import services
from accounts.directory.forms import first_error
from accounts.models import BulkJob, BulkRow
from accounts.rules import permissions, words
from accounts.rules.errors import InvalidInput

TEMPLATES = "admin/accounts/bulkjob/"
ROWS_PER_PAGE = 100
REFRESH_SECONDS = 2  # the page of a file being read reloads itself (a meta refresh: the CSP allows no inline script)
ROW_FILTERS = {
    "error": {"plan": BulkRow.ERROR},
    "create": {"plan": BulkRow.CREATE},
    "update": {"plan": BulkRow.UPDATE},
    "unchanged": {"plan": BulkRow.UNCHANGED},
    "failed": {"outcome": BulkRow.FAILED},
    "remaining": {"state__in": [BulkRow.PENDING, BulkRow.CLAIMED]},
}

SAID = {
    "no_file": "Choose a CSV file to upload.",
    "started": "Applying {rows} in the background; this page follows their progress.",
    "resumed": "Resumed: the rows not done yet are queued again.",
    "retried": "{rows} queued again.",
    "cancelled": "Cancelled: the workers finish the row in hand and take no more.",
    "inline_done": "{label}: {done} done, {failed} failed of {total}.",
    "inline_failures": "Not applied: {rows}",
    "background": "{label} for {users} runs in the background.",
}


def job_url(job: BulkJob) -> str:
    """Return the URL of a job's page."""
    return reverse("admin:accounts_bulkjob_change", args=[job.pk])


def _job(request, job_id) -> BulkJob:
    """Return the job the viewer may see, or raise Http404 / PermissionDenied."""
    job = BulkJob.objects.select_related("created_by").filter(pk=job_id).first() if str(job_id).isdigit() else None
    if job is None:
        raise Http404("No such job.")
    if not permissions.can_view_job(request.user, job):
        raise PermissionDenied
    return job


class SizeLimitHandler(FileUploadHandler):
    """Stop reading an upload (sent without a length) as soon as it passes the limit."""

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > imports.limit_bytes():
            self.request.upload_too_large = start + len(raw_data)
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def _upload_form(request, admin, form, error: str = "", status: int = 200):
    """Render the upload form, with the file's refusal when there is one."""
    return TemplateResponse(
        request,
        TEMPLATES + "import.html",
        admin.screen_context(
            request,
            title="Import users from a CSV file",
            form=form,
            error=error,
            header=imports.HEADER,
            time_zone=settings.TIME_ZONE,
            limit_mb=settings.PORTAL_BULK_IMPORT_MAX_MB,
        ),
        status=status,
    )


@require_http_methods(["GET", "POST"])
@csrf_exempt  # CSRF is checked in _import_checked, once the size is known to be acceptable
def import_upload(request, admin):
    """Show the upload form (GET); refuse an oversized file unread, else check CSRF and store it (POST)."""
    if not permissions.can_import(request.user):
        raise PermissionDenied
    if request.method == "POST":
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > imports.limit_bytes() + 64 * 1024:
            error = imports.MESSAGES["too_large"].format(
                size=f"{int(length) / 1024 / 1024:.1f} MB", limit=settings.PORTAL_BULK_IMPORT_MAX_MB
            )
            return _upload_form(request, admin, ImportForm(), error, status=413)
        request.upload_handlers.insert(0, SizeLimitHandler(request))
    return _import_checked(request, admin)


@csrf_protect
def _import_checked(request, admin):
    """Store the uploaded file for its preview (POST, CSRF checked) or show the form (GET)."""
    if request.method != "POST":
        return _upload_form(request, admin, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if getattr(request, "upload_too_large", 0):
        error = imports.MESSAGES["too_large"].format(
            size=f"over {imports.limit_bytes() / 1024 / 1024:.0f} MB", limit=settings.PORTAL_BULK_IMPORT_MAX_MB
        )
        return _upload_form(request, admin, form, error, status=413)
    upload = request.FILES.get("file")
    if upload is None:
        return _upload_form(request, admin, form, SAID["no_file"], status=400)
    reasoned = ReasonForm(request.POST)  # the file itself is checked by the import, with its own words
    try:
        if not reasoned.is_valid():
            raise InvalidInput(first_error(reasoned))
        job = jobs.import_upload(
            actor=request.user,
            binary=upload.file,
            name=upload.name,
            size=upload.size,
            reason=reasoned.cleaned_data["reason"],
        )
    except (imports.FileError, InvalidInput) as exc:
        return _upload_form(request, admin, form, exc.message, status=400)
    return redirect(job_url(job))


@require_GET
def job_page(request, job_id, admin):
    """Show a job: its preview before it is applied, then its progress and each row's outcome."""
    job = _job(request, job_id)
    shown = request.GET.get("show", "")
    rows = job.rows.filter(**ROW_FILTERS.get(shown, {})).order_by("number")
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    plans = dict.fromkeys((BulkRow.CREATE, BulkRow.UPDATE, BulkRow.UNCHANGED, BulkRow.ERROR, BulkRow.APPLY), 0)
    plans.update(job.rows.values_list("plan").annotate(n=Count("id")).order_by())
    return TemplateResponse(
        request,
        TEMPLATES + "job.html",
        admin.screen_context(
            request,
            title=job_title(job),
            job=job,
            progress=bulk.progress(job),
            page=page,
            shown=shown,
            plans=plans,
            changes=plans[BulkRow.CREATE] + plans[BulkRow.UPDATE],
            filters=list(ROW_FILTERS),
            earlier=imports.earlier_run(job) if job.file_sha256 else None,
            can={
                "apply": permissions.can_apply_job(request.user, job),
                "steer": permissions.can_steer_job(request.user, job),
            },
            lease_seconds=settings.PORTAL_BULK_LEASE_SECONDS,
            refresh_seconds=REFRESH_SECONDS,
        ),
    )


def job_title(job: BulkJob) -> str:
    """Return a job's title: 'Import of users.csv' or 'Grant crm'."""
    if job.kind == BulkJob.IMPORT:
        return f"Import of {job.file_name or 'a file'} (#{job.pk})"
    return f"{bulk_actions.action_label(job.action)} (#{job.pk})"


@never_cache
@require_GET
def job_progress(request, job_id, admin):
    """Answer the job's counts as JSON, for the progress page's polling."""
    return JsonResponse(bulk.progress(_job(request, job_id)))


def _post_action(request, job_id, run):
    """Run a write on a job and go back to its page with the outcome."""
    job = _job(request, job_id)
    try:
        said = run(job)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, said)
    return redirect(job_url(job))


@require_POST
def job_apply(request, job_id, admin):
    """Apply a previewed import in the background."""

    def run(job):
        jobs.job_start(actor=request.user, job=job, request=request)
        return SAID["started"].format(rows=words.counted(job.rows.filter(state=BulkRow.PENDING).count(), "row"))

    return _post_action(request, job_id, run)


@require_POST
def job_resume(request, job_id, admin):
    """Carry on with an interrupted or stalled job; with retry=failed, its failed rows too."""
    form = ResumeForm(request.POST)

    def run(job):
        if not form.is_valid():
            services.input_refused(
                actor=request.user,
                action="bulk_resume",
                message=first_error(form),
                rule=lambda actor, _entry: permissions.can_steer_job(actor, job),
                target=f"job {job.pk}",
                request=request,
            )
        count = jobs.job_resume(
            actor=request.user, job=job, failed_too=form.cleaned_data["retry"] == "failed", request=request
        )
        return SAID["retried"].format(rows=words.counted(count, "failed row")) if count else SAID["resumed"]

    return _post_action(request, job_id, run)


@require_POST
def job_cancel(request, job_id, admin):
    """Cancel a job."""

    def run(job):
        jobs.job_cancel(actor=request.user, job=job, request=request)
        return SAID["cancelled"]

    return _post_action(request, job_id, run)


def selection_run(admin, request, queryset, name: str):
    """Run a bulk action from the directory: at once for a small selection, else in the background."""
    form = BulkParametersForm(request.POST, needs=bulk_actions.ACTIONS[name].needs)
    if not form.is_valid():
        admin.message_user(request, first_error(form), messages.ERROR)
        return None
    reason = form.cleaned_data.pop("reason")
    try:
        job = bulk_actions.selection_job(
            actor=request.user, action={"name": name, **form.cleaned_data}, queryset=queryset, reason=reason
        )
    except services.ServiceError as exc:
        admin.message_user(request, exc.message, messages.ERROR)
        return None
    label = bulk_actions.action_label(job.action)
    result = jobs.selection_apply(actor=request.user, job=job)
    if result is None or result["status"] in bulk.ACTIVE:  # large, or the request's time ran out first
        admin.message_user(
            request, SAID["background"].format(label=label, users=words.counted(job.total, "user")), messages.INFO
        )
        return redirect(job_url(job))
    level = messages.SUCCESS if not result["failed"] and result["status"] == BulkJob.DONE else messages.WARNING
    admin.message_user(request, SAID["inline_done"].format(label=label, **result), level)
    failures = job.rows.filter(outcome=BulkRow.FAILED).order_by("number")[:10]
    if failures:
        rows = "; ".join(f"{row.email}: {row.message}" for row in failures)
        admin.message_user(request, SAID["inline_failures"].format(rows=rows), messages.WARNING)
    if result["error"]:
        admin.message_user(request, result["error"], messages.ERROR)
    return None
