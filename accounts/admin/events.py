"""Event subscriptions: the list, a subscription's delivery log, and the export of every event."""

from django.contrib import admin
from django.urls import path

from accounts.admin.screens import ScreensAdmin
from accounts.admin.site import portal_site
from accounts.events import views
from accounts.models import Subscription
from accounts.rules import permissions


@admin.register(Subscription, site=portal_site)
class SubscriptionAdmin(ScreensAdmin):
    add_screen, change_screen = staticmethod(views.create), staticmethod(views.page)
    list_display = ["application", "format", "url", "active", "disabled_reason", "created"]
    list_display_links = ["application"]
    list_filter = ["format", "active"]
    ordering = ["application__name", "id"]
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application")

    def has_module_permission(self, request):
        return permissions.can_manage_applications(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.can_manage_applications(request.user)

    def has_add_permission(self, request):
        return permissions.can_manage_applications(request.user)

    def screen_urls(self):
        wrap, info = self.screen, "accounts_subscription"
        return [
            path("export.jsonl", wrap(views.export), name=f"{info}_export"),
            path("signing-key/rotate/", wrap(views.key_rotate), name=f"{info}_key_rotate"),
            path("<int:pk>/rotate/", wrap(views.rotate), name=f"{info}_rotate"),
            path("<int:pk>/resume/", wrap(views.activate), name=f"{info}_resume"),
            path("<int:pk>/pause/", wrap(views.pause), name=f"{info}_pause"),
            path("<int:pk>/remove/", wrap(views.delete), name=f"{info}_remove"),
            path("<int:pk>/replay/", wrap(views.replay), name=f"{info}_replay"),
            path("<int:pk>/deliveries/<int:delivery>/resend/", wrap(views.resend), name=f"{info}_resend"),
        ]
