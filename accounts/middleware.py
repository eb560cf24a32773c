"""Turn Cognito faults that escape a view into a clear 503 page, never a stack trace."""

import logging

from django.shortcuts import render

from accounts import cognito

logger = logging.getLogger(__name__)


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
        busy = isinstance(exception, cognito.Throttled)
        logger.warning("Cognito %s during %s %s", "throttled" if busy else "unreachable", request.method, request.path)
        response = render(request, "503.html", {"busy": busy}, status=503)
        response["Retry-After"] = "5" if busy else "30"
        return response
