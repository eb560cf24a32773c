"""Reads about staff signing in to the portal (no Cognito call)."""

from datetime import datetime

from accounts.models import User


def staff_last_sign_in(subs: list[str]) -> dict[str, datetime | None]:
    """Return {sub: the last successful portal sign-in, or None} for these staff members, in one query."""
    found = dict.fromkeys(subs)
    found.update(User.objects.filter(cognito_sub__in=list(subs)).values_list("cognito_sub", "last_login"))
    return found
