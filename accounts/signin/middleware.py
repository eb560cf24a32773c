"""Give each request one Cognito time budget; turn Cognito faults that escape a view into a clear page."""

import logging
from http import HTTPStatus

from django.conf import settings
from django.contrib import auth, messages
from django.shortcuts import redirect, render

from accounts import cognito
from accounts.signin import flows, standing

logger = logging.getLogger("accounts.middleware")


def cognito_fault_response(request, exception: cognito.CognitoFault):
    """Return the 503 page for a Cognito fault, with a Retry-After header."""
    busy, late = isinstance(exception, cognito.Throttled), isinstance(exception, cognito.CognitoTimeout)
    logger.warning(
        "Cognito %s during %s %s",
        "throttled" if busy else "too slow" if late else "unreachable",
        request.method,
        request.path,
    )
    context = {"busy": busy, "late": late, "budget": settings.COGNITO_REQUEST_BUDGET_SECONDS}
    response = render(request, "503.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    response["Retry-After"] = "5" if busy else "30"
    return response


class CognitoFaultMiddleware:
    """Run each request within COGNITO_REQUEST_BUDGET_SECONDS of Cognito time; answer its faults with a page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with cognito.budget(settings.COGNITO_REQUEST_BUDGET_SECONDS):
            return self.get_response(request)

    def process_exception(self, request, exception):
        """Render the 503 page for Cognito faults, 429 for a per-user limit; leave the rest to Django."""
        if isinstance(exception, cognito.TooManyAttempts):
            return render(request, "429.html", {"said": cognito.TOO_MANY_ATTEMPTS}, status=HTTPStatus.TOO_MANY_REQUESTS)
        if not isinstance(exception, cognito.CognitoFault):
            return None
        return cognito_fault_response(request, exception)


class SessionRevalidationMiddleware:
    """Follow Cognito: re-read the staff standing and, at the interval, refresh the tokens; end a lost session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if ended := flows.session.session_ended_why(request):
            messages.warning(request, flows.common.SESSION_ENDED.format(why=ended))
            return redirect("accounts:login")
        if request.user.is_authenticated:
            try:
                why = standing.actor_recheck(request.user) or flows.session.session_revalidate(request)
            except cognito.CognitoFault as exc:
                return cognito_fault_response(request, exc)
            if why:
                auth.logout(request)
                messages.warning(request, flows.common.SESSION_ENDED.format(why=why))
                return redirect("accounts:login")
        return self.get_response(request)
