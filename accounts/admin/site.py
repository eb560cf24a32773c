"""The admin site: the frame of user administration, for active staff, signed in on the portal's own page."""

from functools import partial, update_wrapper

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.audit.record import denial_record
from accounts.reviews import views as review_views
from accounts.rules import permissions
from accounts.signin import views as auth_views
from accounts.signin.staff import views as staff_views


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
        """Send the anonymous to the portal's sign-in and answer signed-in non-staff with 403.

        A POST refused with 403 that no service audited (a forged write) is audited as denied here.
        """
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("accounts:login"))
            try:
                if not self.has_permission(request):
                    raise PermissionDenied
                return inner(request, *args, **kwargs)
            except PermissionDenied:
                denial_record(request)
                raise

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
        shortcut = path("r/<int:content_type_id>/<path:object_id>/", self.admin_view(_no_shortcut), name="view_on_site")
        urls = [shortcut if getattr(url, "name", "") == "view_on_site" else url for url in super().get_urls()]
        return self.staff_urls() + self.review_urls() + urls

    def staff_urls(self) -> list:
        """Return the staff management screens' URLs (before the admin's catch-all)."""
        wrap = self.site_screen
        return [
            path("staff/", wrap(staff_views.staff_list), name="staff"),
            path("staff/grant/", wrap(staff_views.staff_grant), name="staff_grant"),
            path("staff/<str:sub>/remove/", wrap(staff_views.staff_remove), name="staff_remove"),
        ]

    def review_urls(self) -> list:
        """Return the access review campaigns' URLs (before the admin's catch-all)."""
        wrap, views = self.site_screen, review_views
        return [
            path("reviews/", wrap(views.review_list), name="review_list"),
            path("reviews/start/", wrap(views.review_start), name="review_start"),
            path("reviews/<int:campaign_id>/", wrap(views.review_detail), name="review_detail"),
            path("reviews/<int:campaign_id>/decide/", wrap(views.review_decide), name="review_decide"),
            path("reviews/<int:campaign_id>/report/", wrap(views.review_report), name="review_report"),
            path("reviews/<int:campaign_id>/report.csv", wrap(views.review_report_csv), name="review_report_csv"),
        ]

    def site_screen(self, view):
        """Return `view` bound to this site behind its checks."""
        return self.admin_view(update_wrapper(partial(view, site=self), view))


def _no_shortcut(request, content_type_id, object_id):
    """Answer 404: Django's shortcut 500s on ids of the wrong shape and on models without a table."""
    raise Http404


portal_site = PortalAdminSite(name="admin")
