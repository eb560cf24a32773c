"""The portal's pages."""

import sys
from http import HTTPStatus

from django.contrib.auth.decorators import login_required
from django.db.utils import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.directory import selectors
from accounts.pool import health
from accounts.rules import permissions


@login_required
def home(request):
    """Show the signed-in staff member's start page: find a user, and what they may do."""
    return render(
        request,
        "home.html",
        {
            "can_view_directory": permissions.can_view_directory(request.user),
            "can_invite": permissions.can_invite(request.user),
            "can_import": permissions.can_import(request.user),
            "can_review_access": permissions.can_review_access(request.user),
            "can_view_audit": permissions.can_view_audit(request.user),
            "owned": sorted(permissions.owned_applications(request.user)),
            "as_of": selectors.directory_as_of(),
            "users": selectors.directory_entries().count(),
        },
    )


@never_cache
@require_GET
def healthz(request):
    """Answer with the state of the database and of Cognito: 200 when both are ok, else 503."""
    state = {"database": health.database_state(), "cognito": health.cognito_state()}
    healthy = all(value == "ok" for value in state.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **state},
        status=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
    )


def error_403(request, exception=None):
    """Render the 403 page."""
    return render(request, "403.html", status=HTTPStatus.FORBIDDEN)


def error_404(request, exception=None):
    """Render the 404 page."""
    return render(request, "404.html", status=HTTPStatus.NOT_FOUND)


def error_500(request):
    """Render the 500 page, or the 503 page when the database is unreachable, touching nothing that failed."""
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):  # Django calls this while handling it
        response = render(request, "503_database.html", status=HTTPStatus.SERVICE_UNAVAILABLE)
        response["Retry-After"] = "30"
        return response
    return render(request, "500.html", status=HTTPStatus.INTERNAL_SERVER_ERROR)
