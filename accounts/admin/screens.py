"""The screens' base admin: a ModelAdmin whose pages are the portal's own screens."""

from functools import partial

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect
from django.urls import reverse


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
