"""Count failed sign-ins with django-axes, per account AND client address together; limit forgot-password.

A stranger's failures from other addresses never refuse the right password: only the pair that failed
PORTAL_SIGNIN_MAX_FAILURES times is refused, for PORTAL_SIGNIN_LOCKOUT_SECONDS. Axes keeps the counters in
the database and adds to them with one atomic UPDATE (F() + 1) inside a transaction, its row created under
a unique (username, address, user agent) constraint, so concurrent failures are never lost.
"""

import hashlib
from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings

from accounts.applications import ratelimit
from accounts.audit.record import client_ip

FORGOT_WINDOW_SECONDS = 3600


class SignInAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler, counting only the failures the sign-in flow reports."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """Count a failure reported by signin_failed; Django's own signal also fires for a challenge, no failure."""
        if sender == __name__:
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        """Leave the counters alone: signin_succeeded clears the pair once the whole sign-in succeeded."""


def failure_limit(request, credentials) -> int:
    """Return the failures an account and address may have before that pair is refused (AXES_FAILURE_LIMIT)."""
    return settings.PORTAL_SIGNIN_MAX_FAILURES


def cool_off(request) -> timedelta:
    """Return how long failures count (AXES_COOLOFF_TIME)."""
    return timedelta(seconds=settings.PORTAL_SIGNIN_LOCKOUT_SECONDS)


def signin_allowed(request, *, username: str) -> bool:
    """Return False when this account has failed too often from this client address."""
    return AxesProxyHandler.is_allowed(request, {"username": username})


def signin_failed(request, *, username: str) -> bool:
    """Count one failure of this account from this address; return True when the pair is now refused."""
    AxesProxyHandler.user_login_failed(__name__, {"username": username}, request)
    return not signin_allowed(request, username=username)


def signin_succeeded(request, *, username: str) -> None:
    """Forget the failures of this account from this address."""
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.get_implementation().reset_user_attempts(request, {"username": username})


def forgot_allowed(request, *, email: str) -> bool:
    """Count one forgot-password request; return False when its email or address used up its hourly limit."""
    email_key = hashlib.sha256(email.encode()).hexdigest()
    by_email = ratelimit.hit(
        f"forgot:email:{email_key}", limit=settings.PORTAL_PASSWORD_FORGOT_PER_EMAIL, window=FORGOT_WINDOW_SECONDS
    )
    by_address = ratelimit.hit(
        f"forgot:addr:{client_ip(request)}",
        limit=settings.PORTAL_PASSWORD_FORGOT_PER_ADDRESS,
        window=FORGOT_WINDOW_SECONDS,
    )
    return not (by_email or by_address)
