"""The admin site is the frame of user administration: the directory, the user page, the audit log.

The directory is a changelist over the local index (search, filters, sort, pagination, actions: no
Cognito call); the user page and every write are custom admin views that go to Cognito through the
services. Permissions come from the predicates in accounts/permissions.py, never from model perms.
"""

from datetime import date
from functools import partial, update_wrapper

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.directory import selectors, sync_lease
from accounts.rules import permissions, roles
from accounts.bulk.actions import ACTIONS as BULK_ACTIONS
from accounts.bulk.forms import BulkActionForm
from accounts.models import Application, AuditEvent, BulkJob, DirectoryEntry
from accounts.directory import review_views as access_views
from accounts.applications import views as app_views
from accounts.audit import views as audit_views
from accounts.signin import views as auth_views
from accounts.bulk import views as bulk_views
from accounts.directory import views

REFRESH_LIMIT = 100
COGNITO_STATUSES = ["CONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED", "UNCONFIRMED", "ARCHIVED",
                    "COMPROMISED", "EXTERNAL_PROVIDER", "UNKNOWN"]


class PortalAdminSite(admin.AdminSite):
    """The admin site for active staff; signing in happens on the portal's own page."""

    site_header = "Access portal"
    site_title = "Access portal"
    index_title = "User administration"
    site_url = "/"
    enable_nav_sidebar = False

    def has_permission(self, request) -> bool:
        """Let in active staff only."""
        return permissions.is_portal_staff(request.user)

    def admin_view(self, view, cacheable=False):
        """Send the anonymous to the portal's sign-in and answer signed-in non-staff with 403."""
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
            if not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, view)

    def logout(self, request, extra_context=None):
        """Sign out through the portal, which revokes the Cognito tokens and audits it (POST only)."""
        return auth_views.logout(request)

    def password_change(self, request, extra_context=None):
        """Send staff to the portal's password page: their password lives in Cognito, not here."""
        return redirect("accounts:account_password")

    def password_change_done(self, request, extra_context=None):
        """Send staff to their account page."""
        return redirect("accounts:account")

    def login(self, request, extra_context=None):
        """Redirect to the portal's sign-in, keeping a safe ?next=."""
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            target = reverse("admin:index", current_app=self.name)
        return redirect_to_login(target, reverse("accounts:login"))

    def get_urls(self):
        """Return the admin's URLs, the view-on-site shortcut answering 404: no model has a page of its own."""
        shortcut = path("r/<int:content_type_id>/<path:object_id>/", self.admin_view(_no_shortcut),
                        name="view_on_site")
        return [shortcut if getattr(url, "name", "") == "view_on_site" else url for url in super().get_urls()]


def _no_shortcut(request, content_type_id, object_id):
    """Answer 404: Django's shortcut 500s on ids of the wrong shape and on models without a table."""
    raise Http404


portal_site = PortalAdminSite(name="admin")


# --- The directory --------------------------------------------------------------------------------


class ScreensAdmin(admin.ModelAdmin):
    """A ModelAdmin whose pages are the portal's own screens: extra URLs, add, change and delete delegated."""

    add_screen = change_screen = delete_screen = None  # staticmethod(view); None keeps the admin's own page
    history_anchor = ""

    def screen(self, view):
        """Return `view` bound to this admin behind the site's checks, keeping its CSRF exemption."""
        bound = partial(view, admin=self)
        bound.csrf_exempt = getattr(view, "csrf_exempt", False)
        return self.admin_site.admin_view(bound)

    def screen_context(self, request, **extra) -> dict:
        """Return the admin frame's context for one of this admin's screens."""
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def has_change_permission(self, request, obj=None):
        """Refuse the admin's own editing: every write goes through a screen and its service."""
        return False

    def has_delete_permission(self, request, obj=None):
        """Refuse the admin's own deletion, for the same reason."""
        return False

    def screen_urls(self) -> list:
        """Return this admin's extra URLs (they come before the admin's own)."""
        return []

    def get_urls(self):
        return self.screen_urls() + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        if self.add_screen is None:
            return super().add_view(request, form_url, extra_context)
        return self.add_screen(request, admin=self)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if self.change_screen is None:
            return super().change_view(request, object_id, form_url, extra_context)
        return self.change_screen(request, unquote(object_id), admin=self)

    def delete_view(self, request, object_id, extra_context=None):
        if self.delete_screen is None:
            return super().delete_view(request, object_id, extra_context)
        return self.delete_screen(request, unquote(object_id), admin=self)

    def history_view(self, request, object_id, extra_context=None):
        """Send history to the object's own page, which shows its audit trail."""
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
        return redirect(reverse(name, args=[unquote(object_id)]) + self.history_anchor)


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return roles.role_filter_choices()

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(role=roles.role_from_word(value))


class LevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [(str(level), str(level)) for level in range(1, roles.max_level() + 1)]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(level=int(value)) if value.isdigit() else queryset.none()


class ApplicationFilter(admin.SimpleListFilter):
    title = "application"
    parameter_name = "application"

    def lookups(self, request, model_admin):
        return [(name, name) for name in app_selectors.application_names()] + [("none", "No application")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(grants__isnull=True)
        return queryset if value is None else queryset.filter(grants__application=value)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(status, status.replace("_", " ").capitalize()) for status in COGNITO_STATUSES]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(status=value)


class StaffFilter(admin.SimpleListFilter):
    title = "staff account"
    parameter_name = "staff"

    def lookups(self, request, model_admin):
        return [("admin", "Administrator"), ("helpdesk", "Help desk"), ("none", "Not staff")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(staff="" if value == "none" else value)


@admin.register(DirectoryEntry, site=portal_site)
class DirectoryEntryAdmin(ScreensAdmin):
    add_screen, change_screen = staticmethod(views.invite), staticmethod(views.user_page)
    delete_screen, history_anchor = staticmethod(views.delete), "#history"
    list_display = ["email", "display_name", "role_display", "applications_display", "status", "enabled",
                    "staff_display", "modified"]
    list_display_links = ["email"]
    list_filter = [RoleFilter, LevelFilter, ApplicationFilter, StatusFilter, "enabled", StaffFilter]
    search_fields = ["email"]  # shows the search box; get_search_results does the prefix search
    search_help_text = "Email or name starting with…"
    sortable_by = ["email", "display_name", "role_display", "status", "enabled", "staff_display", "modified"]
    ordering = ["email"]
    list_per_page = 50
    list_max_show_all = 200
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # counts per filter choice would aggregate the whole index
    actions = ["refresh_selected", "bulk_grant", "bulk_revoke", "bulk_set_role", "bulk_disable", "bulk_sign_out"]
    action_form = BulkActionForm

    @admin.display(description="name", ordering="name_key")
    def display_name(self, entry):
        return entry.name

    @admin.display(description="role", ordering="role")
    def role_display(self, entry):
        return entry.role_label

    @admin.display(description="applications")
    def applications_display(self, entry):
        return ", ".join(sorted(grant.application for grant in entry.grants.all())) or "—"

    @admin.display(description="staff", ordering="staff")
    def staff_display(self, entry):
        return {"admin": "Administrator", "helpdesk": "Help desk"}.get(entry.staff, "")

    def get_queryset(self, request):
        return selectors.directory_entries()

    def get_search_results(self, request, queryset, search_term):
        return selectors.directory_search(queryset, search_term), False

    def has_module_permission(self, request):
        return permissions.can_view_directory(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_view_directory(request.user)

    def has_add_permission(self, request):
        return permissions.can_invite(request.user)

    def changelist_view(self, request, extra_context=None):
        context = {"title": "Users", "fresh": sync_lease.freshness(),
                   "can_import": permissions.can_import(request.user), **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.action(description="Refresh the selected users from Cognito")
    def refresh_selected(self, request, queryset):
        subs = list(queryset.values_list("sub", flat=True)[: REFRESH_LIMIT + 1])
        if len(subs) > REFRESH_LIMIT:
            self.message_user(request, f"Select at most {REFRESH_LIMIT} users, or refresh the whole directory.",
                              messages.ERROR)
            return
        gone = 0
        for sub in subs:
            try:
                selectors.user_live(sub)
            except cognito.UserNotFound:
                gone += 1
        self.message_user(request, views.SAID["refreshed"].format(count=len(subs), gone=gone), messages.SUCCESS)

    def get_actions(self, request):
        """Offer each bulk action only to those its rule allows (the help desk: set role only)."""
        actions = super().get_actions(request)
        for name in BULK_ACTIONS:
            if not permissions.can_bulk(request.user, name):
                actions.pop(f"bulk_{name}", None)
        return actions

    def _bulk(self, request, queryset, name: str):
        return bulk_views.selection_run(self, request, queryset, name)

    @admin.action(description=f"{BULK_ACTIONS['grant'].label} (choose it on the right)")
    def bulk_grant(self, request, queryset):
        return self._bulk(request, queryset, "grant")

    @admin.action(description=f"{BULK_ACTIONS['revoke'].label} (choose it on the right)")
    def bulk_revoke(self, request, queryset):
        return self._bulk(request, queryset, "revoke")

    @admin.action(description=f"{BULK_ACTIONS['set_role'].label} (choose them on the right)")
    def bulk_set_role(self, request, queryset):
        return self._bulk(request, queryset, "set_role")

    @admin.action(description=BULK_ACTIONS["disable"].label)
    def bulk_disable(self, request, queryset):
        return self._bulk(request, queryset, "disable")

    @admin.action(description=BULK_ACTIONS["sign_out"].label)
    def bulk_sign_out(self, request, queryset):
        return self._bulk(request, queryset, "sign_out")

    def screen_urls(self):
        wrap, info = self.screen, "accounts_directoryentry"
        return [
            path("refresh/", wrap(views.refresh), name=f"{info}_refresh"),
            path("sync/", wrap(views.sync_progress), name=f"{info}_sync"),
            path("access/", wrap(access_views.dashboard), name=f"{info}_access_dashboard"),
            path("access/matrix/", wrap(access_views.matrix), name=f"{info}_access_matrix"),
            path("access/review.csv", wrap(access_views.review_csv), name=f"{info}_access_review"),
            path("<str:sub>/role/", wrap(views.role_change), name=f"{info}_role"),
            path("<str:sub>/access/", wrap(views.access_set), name=f"{info}_access"),
            path("<str:sub>/reset-password/", wrap(views.reset_password), name=f"{info}_reset_password"),
            path("<str:sub>/sign-out/", wrap(views.sign_out), name=f"{info}_sign_out"),
            path("<str:sub>/disable/", wrap(views.disable), name=f"{info}_disable"),
            path("<str:sub>/enable/", wrap(views.enable), name=f"{info}_enable"),
        ]


# --- Bulk jobs ----------------------------------------------------------------------------------------


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
        return permissions.is_portal_staff(request.user) and (obj is None or permissions.can_view_job(request.user, obj))

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


# --- The audit log ----------------------------------------------------------------------------------


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a text box."""

    template = "admin/accounts/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # one dummy choice, so the admin shows the filter

    def choices(self, changelist):
        params = changelist.get_filters_params()
        hidden = [(key, value) for key, values in params.items() if key != self.parameter_name
                  for value in (values if isinstance(values, list) else [values])]
        yield {"parameter_name": self.parameter_name, "value": self.value() or "", "hidden": hidden,
               "query_string": changelist.get_query_string(remove=[self.parameter_name])}


class ActorFilter(InputFilter):
    title = "actor"
    parameter_name = "actor"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(actor__istartswith=value) if value else queryset


class TargetFilter(InputFilter):
    title = "target (email or sub)"
    parameter_name = "target"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(target_sub=value) | queryset.filter(target__istartswith=value)


class _DateFilter(InputFilter):
    lookup = ""

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            day = date.fromisoformat(value)
        except ValueError:
            messages.warning(request, f"Ignored the {self.title} date {value!r}: use YYYY-MM-DD.")
            return queryset
        return queryset.filter(**{f"at__date__{self.lookup}": day})


class FromDateFilter(_DateFilter):
    title = "from (YYYY-MM-DD)"
    parameter_name = "from"
    lookup = "gte"


class ToDateFilter(_DateFilter):
    title = "to (YYYY-MM-DD)"
    parameter_name = "to"
    lookup = "lte"


@admin.register(AuditEvent, site=portal_site)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "target", "outcome", "error", "client_ip"]
    list_filter = ["outcome", "action", ActorFilter, TargetFilter, FromDateFilter, ToDateFilter]
    readonly_fields = ["at", "actor", "actor_sub", "action", "target", "target_sub", "before", "after", "outcome",
                       "error", "client_ip"]
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False
    actions = None

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Audit log", **(extra_context or {})})

    def has_module_permission(self, request):
        return permissions.can_view_audit(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_view_audit(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = self.admin_site.admin_view(partial(audit_views.export_csv, admin=self))
        return [path("export.csv", export, name="accounts_auditevent_export")] + super().get_urls()


# --- The application registry -------------------------------------------------------------------


@admin.register(Application, site=portal_site)
class ApplicationAdmin(ScreensAdmin):
    add_screen, change_screen = staticmethod(app_views.create), staticmethod(app_views.application_page)
    delete_screen = staticmethod(app_views.delete)
    list_display = ["name", "group", "description", "role_arn", "precedence", "members"]
    list_display_links = ["name"]
    search_fields = ["name"]
    ordering = ["name"]
    list_per_page = 100
    actions = None

    @property
    def prefix_example(self) -> str:
        """Return how an application's group is named, for the list's explanation."""
        return roles.group_for_application("<name>")

    @admin.display(description="Cognito group")
    def group(self, application):
        return roles.group_for_application(application.name)

    @admin.display(description="members", ordering="members")
    def members(self, application):
        return application.members

    def get_queryset(self, request):
        return app_selectors.applications_with_counts()

    def has_module_permission(self, request):
        return permissions.can_manage_applications(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_applications(request.user)

    def has_add_permission(self, request):
        return permissions.can_manage_applications(request.user)

    def screen_urls(self):
        wrap, info = self.screen, "accounts_application"
        return [
            path("refresh/", wrap(app_views.refresh), name=f"{info}_refresh"),
            path("health/", wrap(app_views.health), name=f"{info}_health"),
            path("<int:pk>/update/", wrap(app_views.update), name=f"{info}_update"),
            path("<int:pk>/members.csv", wrap(app_views.members_csv), name=f"{info}_members_csv"),
            path("<int:pk>/members/<str:sub>/remove/", wrap(app_views.member_remove), name=f"{info}_member_remove"),
            path("<int:pk>/keys/issue/", wrap(app_views.key_issue), name=f"{info}_key_issue"),
            path("<int:pk>/keys/<str:key_id>/revoke/", wrap(app_views.key_revoke), name=f"{info}_key_revoke"),
        ]
