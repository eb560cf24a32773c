"""WSGI entry point for gunicorn: the API under /api/v1/ through its own short middleware stack, the rest through all.

The API's views authenticate by an API key header, never by a cookie: sessions, CSRF, authentication,
messages and the page headers (CSP, frames) have nothing to do there, so PORTAL_API_MIDDLEWARE keeps only
the security headers, the Host check (CommonMiddleware) and the Cognito time budget.
"""

import os

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
site = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by get_wsgi_application)

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


def application(environ, start_response):
    """Serve /api/v1/ through the API's stack, everything else through the site's."""
    handler = api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else site
    return handler(environ, start_response)
