"""Values every template may use."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.rules import permissions


def _sections(user) -> dict[str, bool]:
    """Return which sections the navigation links for this user, by the predicates that guard them."""
    return {
        "users": permissions.can_view_directory(user),
        "access": permissions.can_review_access(user),
        "jobs": permissions.is_portal_staff(user),
        "admin": permissions.is_portal_staff(user),
        "staff": permissions.can_manage_staff(user),
        "reviews": permissions.can_review(user),
    }


def portal(request) -> dict:
    """Expose whether the portal runs on the embedded emulator, and (read when used) the navigation's sections."""
    return {
        "embedded": settings.COGNITO_EMBEDDED,
        "nav": SimpleLazyObject(lambda: _sections(getattr(request, "user", None))),
    }
