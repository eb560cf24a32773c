"""Values every template may use."""

from django.conf import settings
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from accounts.rules import permissions

# Where each section of the navigation starts; a page belongs to the section with the longest matching start.
SECTION_STARTS = {
    "users": "admin:accounts_directoryentry_changelist",
    "access": "admin:accounts_directoryentry_access_dashboard",
    "applications": "admin:accounts_application_changelist",
    "audit": "admin:accounts_auditevent_changelist",
    "jobs": "admin:accounts_bulkjob_changelist",
    "account": "accounts:account",
    "staff": "admin:staff",
}
SECTION_PAGES = {"home": "home", "admin": "admin:index"}  # sections of one page only


def current_section(path: str) -> str:
    """Return the navigation section a path belongs to, or '' when none."""
    for name, url_name in SECTION_PAGES.items():
        if path == reverse(url_name):
            return name
    starts = {name: reverse(url_name) for name, url_name in SECTION_STARTS.items()}
    matching = [(len(start), name) for name, start in starts.items() if path.startswith(start)]
    return max(matching)[1] if matching else ""


def _sections(request) -> dict:
    """Return which sections the navigation links for this user, by the predicates that guard them."""
    user = getattr(request, "user", None)
    return {
        "users": permissions.can_browse_directory(user),
        "access": permissions.can_review_access(user),
        "applications": permissions.can_manage_applications(user),
        "audit": permissions.can_view_audit(user),
        "jobs": permissions.is_portal_staff(user),
        "admin": permissions.is_portal_staff(user),
        "staff": permissions.can_manage_staff(user),
        "current": current_section(request.path),
        "reviews": permissions.can_review(user),
    }


def portal(request) -> dict:
    """Expose whether the portal runs on the embedded emulator, and (read when used) the navigation's sections."""
    return {
        "embedded": settings.COGNITO_EMBEDDED,
        "nav": SimpleLazyObject(lambda: _sections(request)),
    }
