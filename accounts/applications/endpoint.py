"""POST /api/v1/access-check straight from WSGI: what an access check costs is the token's, not the framework's.

Applications ask on every page view of every user, so portal/wsgi.py hands this one path to `AccessCheckApp`
rather than to Django's handler. It keeps everything the API stack does to such a POST: Django's request
signals (the database connection's age and health), the Host header against ALLOWED_HOSTS, the security,
Permissions-Policy and never-cache headers, the Cognito time budget, and the answer itself, which is
`api.access_check_reply`'s, the one the Django view gives (the test client, runserver); refusals are logged
once, by accounts.api. What it leaves out is the URL routing, the middleware chain and the response classes:
a fifth of the request's time. A request where the stack would do more (another method, a Host to refuse,
plain HTTP where HTTPS is required, the agents or `www.` rules of CommonMiddleware) goes to the stack itself,
which answers it as it always has.
"""

import json
import logging
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.utils.http import http_date

from accounts import cognito, headers
from accounts.applications import api

logger = logging.getLogger("django.request")

PATH = "/api/v1/access-check"
NEVER_CACHE = "max-age=0, no-cache, no-store, must-revalidate, private"  # what django's never_cache sends
FAILED = "The access check failed; retry shortly."


class AccessCheckApp:
    """The WSGI application of the access check; `fallback` (the API stack) answers what it does not."""

    def __init__(self, fallback):
        self.fallback = fallback

    def __call__(self, environ, start_response):
        """Answer the request, between Django's request_started and request_finished signals."""
        request = WSGIRequest(environ)
        if not _direct(request):
            return self.fallback(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            status, body, extra = _answer(request)
        finally:
            signals.request_finished.send(sender=self.__class__)
        start_response(f"{status} {HTTPStatus(status).phrase}", _headers(request, body, extra))
        return [body]


def _direct(request) -> bool:
    """Return True for a request the API stack would pass untouched to the view: a POST from an allowed host,
    over HTTPS where that is required, with no user-agent or `www.` rule configured."""
    if request.method != "POST" or settings.DISALLOWED_USER_AGENTS or settings.PREPEND_WWW:
        return False
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return request.is_secure() or not settings.SECURE_SSL_REDIRECT


def _answer(request) -> tuple[int, bytes, dict]:
    """Return (status, JSON body, extra headers) of the access check; an unexpected fault is a logged 500."""
    try:
        with cognito.budget(settings.COGNITO_REQUEST_BUDGET_SECONDS):
            reply = api.access_check_reply(request)
        return reply.status, json.dumps(reply.body).encode(), reply.headers
    except Exception:  # as Django's handler does: the trace goes to the log, never to the client
        logger.exception("Internal Server Error: %s", PATH)
        return HTTPStatus.INTERNAL_SERVER_ERROR, json.dumps({"error": FAILED}).encode(), {}


def _headers(request, body: bytes, extra: dict) -> list[tuple[str, str]]:
    """Return the response headers: the JSON's, the reply's own, never-cache and the API stack's security ones."""
    found = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra.items()]
    found += [("Expires", http_date()), ("Cache-Control", NEVER_CACHE)]
    return [*found, *headers.security_headers(secure=request.is_secure())]
