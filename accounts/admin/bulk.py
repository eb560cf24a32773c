"""Bulk jobs: the list of jobs the staff member may see, the upload, the job page and its steering."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import path

from accounts.admin.screens import ScreensAdmin
from accounts.admin.site import portal_site
from accounts.bulk import views as bulk_views
from accounts.models import BulkJob
from accounts.rules import permissions


@admin.register(BulkJob, site=portal_site)
class BulkJobAdmin(ScreensAdmin):
    change_screen = staticmethod(bulk_views.job_page)
    list_display = ["id", "title", "status", "total", "created_by", "created_at", "finished_at"]
    list_display_links = ["id", "title"]
    list_filter = ["kind", "status"]
    list_per_page = 50
    show_full_result_count = False
    actions = None

    @admin.display(description="job")
    def title(self, job):
        return bulk_views.job_title(job)

    def get_queryset(self, request):
        return permissions.jobs_visible(request.user, BulkJob.objects.select_related("created_by"))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Bulk jobs", **(extra_context or {})})

    def has_module_permission(self, request):
        return permissions.is_portal_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.is_portal_staff(request.user) and (
            obj is None or permissions.can_view_job(request.user, obj)
        )

    def has_add_permission(self, request):
        return permissions.can_import(request.user)

    def screen_urls(self):
        wrap, info = self.screen, "accounts_bulkjob"
        return [
            path("import/", wrap(bulk_views.import_upload), name=f"{info}_import"),
            path("<str:job_id>/progress.json", wrap(bulk_views.job_progress), name=f"{info}_progress"),
            path("<str:job_id>/apply/", wrap(bulk_views.job_apply), name=f"{info}_apply"),
            path("<str:job_id>/resume/", wrap(bulk_views.job_resume), name=f"{info}_resume"),
            path("<str:job_id>/cancel/", wrap(bulk_views.job_cancel), name=f"{info}_cancel"),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:accounts_bulkjob_import")
