"""The directory: a changelist over the local index (search, filters, sort, pagination, bulk actions: no
Cognito call), the user page and its writes as screens."""

from datetime import timedelta

from django.contrib import admin, messages
from django.urls import path
from django.utils import timezone

from accounts import cognito
from accounts.admin.screens import ScreensAdmin
from accounts.admin.site import portal_site
from accounts.applications import selectors as app_selectors
from accounts.bulk import actions as bulk_actions
from accounts.bulk import views as bulk_views
from accounts.bulk.actions import ACTIONS as BULK_ACTIONS
from accounts.bulk.forms import BulkActionForm
from accounts.directory import review_views as access_views
from accounts.directory import selectors, sync_lease, views
from accounts.models import DirectoryEntry
from accounts.rules import permissions, roles, words

REFRESH_LIMIT = 100
COGNITO_STATUSES = [
    "CONFIRMED",
    "FORCE_CHANGE_PASSWORD",
    "RESET_REQUIRED",
    "UNCONFIRMED",
    "ARCHIVED",
    "COMPROMISED",
    "EXTERNAL_PROVIDER",
    "UNKNOWN",
]


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
        return roles.level_choices()

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
        return [*permissions.STAFF_LABELS.items(), ("none", "Not staff")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(staff="" if value == "none" else value)


class UseFilter(admin.SimpleListFilter):
    """Users with no allowed access check (to any application) in the last N days, or never."""

    title = "no use in"
    parameter_name = "unused"
    DAYS = [7, 30, 90]

    def lookups(self, request, model_admin):
        return [(str(days), f"{days} days") for days in self.DAYS] + [("never", "ever (never used)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value != "never" and not (value.isdigit() and int(value) in self.DAYS):
            return queryset.none()
        cutoff = None if value == "never" else timezone.now() - timedelta(days=int(value))
        return queryset.exclude(sub__in=app_selectors.subs_used_since(cutoff))


class ExpiresFilter(admin.SimpleListFilter):
    title = "access that ends"
    parameter_name = "expires"

    def lookups(self, request, model_admin):
        return [("soon", "Ends within 7 days"), ("passed", "Ended, not yet swept")]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value not in ("soon", "passed") else queryset.filter(sub__in=selectors.subs_with_ends(value))


@admin.register(DirectoryEntry, site=portal_site)
class DirectoryEntryAdmin(ScreensAdmin):
    add_screen, change_screen = staticmethod(views.invite), staticmethod(views.user_page)
    delete_screen, history_anchor = staticmethod(views.delete), "#history"
    list_display = [
        "email",
        "display_name",
        "role_display",
        "applications_display",
        "status",
        "enabled",
        "staff_display",
        "modified",
    ]
    list_display_links = ["email"]
    list_filter = [
        RoleFilter,
        LevelFilter,
        ApplicationFilter,
        StatusFilter,
        "enabled",
        StaffFilter,
        UseFilter,
        ExpiresFilter,
    ]
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
        return permissions.STAFF_LABELS.get(entry.staff, "")

    def get_queryset(self, request):
        return permissions.entries_visible(request.user, selectors.directory_entries())

    def get_search_results(self, request, queryset, search_term):
        return selectors.directory_search(queryset, search_term), False

    def has_module_permission(self, request):
        return permissions.can_browse_directory(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_browse_directory(request.user)

    def has_add_permission(self, request):
        return permissions.can_invite(request.user)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and (name := request.POST.get("action", "").removeprefix("bulk_")) in BULK_ACTIONS:
            bulk_actions.selection_allowed(actor=request.user, name=name, request=request)  # 403 for a forged one
        context = {
            "title": "Users",
            "fresh": sync_lease.freshness(),
            "can_import": permissions.can_import(request.user),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    @admin.action(description="Refresh the selected users from Cognito")
    def refresh_selected(self, request, queryset):
        subs = list(queryset.values_list("sub", flat=True)[: REFRESH_LIMIT + 1])
        if len(subs) > REFRESH_LIMIT:
            self.message_user(
                request, f"Select at most {REFRESH_LIMIT} users, or refresh the whole directory.", messages.ERROR
            )
            return
        gone = 0
        for sub in subs:
            try:
                selectors.user_live(sub)
            except cognito.UserNotFound:
                gone += 1
        self.message_user(
            request,
            views.SAID["refreshed"].format(
                users=words.counted(len(subs), "user"), gone=gone, exist="exists" if gone == 1 else "exist"
            ),
            messages.SUCCESS,
        )

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
            path("<str:sub>/access/until/", wrap(views.access_grant_until), name=f"{info}_access_until"),
            path("<str:sub>/access/end/", wrap(views.access_end), name=f"{info}_access_end"),
            path("<str:sub>/role/raise/", wrap(views.role_raise), name=f"{info}_role_raise"),
            path("<str:sub>/reset-password/", wrap(views.reset_password), name=f"{info}_reset_password"),
            path("<str:sub>/sign-out/", wrap(views.sign_out), name=f"{info}_sign_out"),
            path("<str:sub>/disable/", wrap(views.disable), name=f"{info}_disable"),
            path("<str:sub>/enable/", wrap(views.enable), name=f"{info}_enable"),
            path("<str:sub>/resend-invitation/", wrap(views.resend_invitation), name=f"{info}_resend_invitation"),
        ]
