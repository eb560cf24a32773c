"""WSGI entry point for gunicorn: the access check straight from WSGI, the rest of the API under /api/v1/ through
its own short middleware stack, everything else through all of it.

The API's views authenticate by an API key header, never by a cookie: sessions, CSRF, authentication,
messages and the page headers (CSP, frames) have nothing to do there, so PORTAL_API_MIDDLEWARE keeps only
the security headers, the Host check (CommonMiddleware) and the Cognito time budget. The access check, asked on
every page view of every application, skips even those layers (accounts.applications.endpoint keeps what they do).
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
site = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by get_wsgi_application)

from accounts.applications.endpoint import PATH as ACCESS_CHECK  # noqa: E402
from accounts.applications.endpoint import AccessCheckApp  # noqa: E402

API_PREFIX = "/api/v1/"


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with the middleware of PORTAL_API_MIDDLEWARE instead of MIDDLEWARE."""

    def load_middleware(self, is_async=False):
        """Build the chain from PORTAL_API_MIDDLEWARE (Django reads the list from settings, once, here)."""
        full, settings.MIDDLEWARE = settings.MIDDLEWARE, settings.PORTAL_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


api = ApiHandler()
access_check = AccessCheckApp(fallback=api)


def application(environ, start_response):
    """Serve the access check by its endpoint, the rest of /api/v1/ through the API's stack, the rest by the site's."""
    path = environ.get("PATH_INFO", "")
    if path == ACCESS_CHECK:
        return access_check(environ, start_response)
    handler = api if path.startswith(API_PREFIX) else site
    return handler(environ, start_response)
