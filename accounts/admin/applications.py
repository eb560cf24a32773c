"""The application registry: the list with member counts, and each application's screens."""

from django.contrib import admin
from django.urls import path

from accounts.admin.screens import ScreensAdmin
from accounts.admin.site import portal_site
from accounts.applications import selectors as app_selectors
from accounts.applications import views as app_views
from accounts.models import Application
from accounts.rules import permissions, roles


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
        return permissions.applications_visible(request.user, app_selectors.applications_with_counts())

    def has_module_permission(self, request):
        return permissions.can_manage_applications(request.user) or permissions.is_owner(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_applications(request.user) or permissions.is_owner(request.user)

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
            path("<int:pk>/members/add/", wrap(app_views.member_add), name=f"{info}_member_add"),
            path("<int:pk>/owners/assign/", wrap(app_views.owner_assign), name=f"{info}_owner_assign"),
            path("<int:pk>/owners/<str:sub>/remove/", wrap(app_views.owner_remove), name=f"{info}_owner_remove"),
            path("<int:pk>/keys/issue/", wrap(app_views.key_issue), name=f"{info}_key_issue"),
            path("<int:pk>/keys/<str:key_id>/revoke/", wrap(app_views.key_revoke), name=f"{info}_key_revoke"),
        ]
