"""Turn Cognito faults that escape a view into a clear 503 page, never a stack trace."""

import logging

from django.contrib import auth, messages
from django.shortcuts import redirect, render

from accounts import cognito, flows, standing

logger = logging.getLogger(__name__)


def cognito_fault_response(request, exception: cognito.CognitoError):
    """Return the 503 page for a Cognito fault, with a Retry-After header."""
    busy = isinstance(exception, cognito.Throttled)
    logger.warning("Cognito %s during %s %s", "throttled" if busy else "unreachable", request.method, request.path)
    response = render(request, "503.html", {"busy": busy}, status=503)
    response["Retry-After"] = "5" if busy else "30"
    return response


class CognitoFaultMiddleware:
    """Answer CognitoUnavailable and Throttled with the 503 page and a Retry-After header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        """Render the 503 page for Cognito faults; leave every other exception to Django."""
        if not isinstance(exception, cognito.CognitoUnavailable | cognito.Throttled):
            return None
        return cognito_fault_response(request, exception)


class SessionRevalidationMiddleware:
    """Follow Cognito: re-read the staff standing and, at the interval, refresh the tokens; end a lost session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            try:
                why = standing.actor_recheck(request.user) or flows.session_revalidate(request)
            except (cognito.CognitoUnavailable, cognito.Throttled) as exc:
                return cognito_fault_response(request, exc)
            if why:
                auth.logout(request)
                messages.warning(request, flows.SESSION_ENDED.format(why=why))
                return redirect("accounts:login")
        return self.get_response(request)
