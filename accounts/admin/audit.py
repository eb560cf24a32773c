"""The audit log: a read-only changelist with typed filters, and its CSV export."""

from datetime import date
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.urls import path

from accounts.admin.site import portal_site
from accounts.audit import changes
from accounts.audit import views as audit_views
from accounts.models import AuditEvent
from accounts.rules import permissions


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a text box."""

    template = "admin/accounts/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # one dummy choice, so the admin shows the filter

    def choices(self, changelist):
        params = changelist.get_filters_params()
        hidden = [
            (key, value)
            for key, values in params.items()
            if key != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "hidden": hidden,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }


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


class ReasonFilter(InputFilter):
    title = "reason or ticket (contains)"
    parameter_name = "reason"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(reason__icontains=value) if value else queryset


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
    list_display = ["when", "actor", "action", "target", "outcome", "change", "reason", "error", "client_ip"]
    list_display_links = ["when"]
    list_filter = ["outcome", "action", ActorFilter, TargetFilter, ReasonFilter, FromDateFilter, ToDateFilter]
    readonly_fields = [
        "at",
        "actor",
        "actor_sub",
        "action",
        "target",
        "target_sub",
        "before",
        "after",
        "role_display",
        "outcome",
        "reason",
        "error",
        "client_ip",
    ]
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False
    actions = None

    @admin.display(description="when", ordering="at")
    def when(self, event):
        return changes.when(event.at)

    @admin.display(description="before → after")
    def change(self, event):
        return changes.change_short(event.before, event.after)

    @admin.display(description="role")
    def role_display(self, event):
        return audit_views.role_change(event)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Audit log", **(extra_context or {})})

    def get_queryset(self, request):
        return permissions.audit_visible(request.user, super().get_queryset(request))

    def has_module_permission(self, request):
        return permissions.can_browse_audit(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_browse_audit(request.user)

    def history_view(self, request, object_id, extra_context=None):
        """Refuse before looking the event up: an event hidden from the viewer is no business of theirs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        export = self.admin_site.admin_view(partial(audit_views.export_csv, admin=self))
        return [path("export.csv", export, name="accounts_auditevent_export")] + super().get_urls()
