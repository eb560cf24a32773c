"""Test settings: fast, isolated, and never able to reach a real AWS account."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-with-enough-length-to-please-checks-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
COGNITO_REGION = "us-east-1"
COGNITO_ENDPOINT_URL = None
COGNITO_USER_POOL_ID = ""
COGNITO_APP_CLIENT_ID = ""
COGNITO_APP_CLIENT_SECRET = ""
COGNITO_APPLICATIONS_CLIENT_ID = ""
COGNITO_EMBEDDED = False
COGNITO_CONNECT_TIMEOUT = 1
COGNITO_READ_TIMEOUT = 2
COGNITO_MAX_ATTEMPTS = 3
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # serve from the finders; no collectstatic before tests
PORTAL_COGNITO_QUOTAS = dict.fromkeys(COGNITO_DEFAULT_QUOTAS, 100000)  # noqa: F405  tests of the pacing set theirs
PORTAL_BULK_THREADS = 1  # rows in the test's own thread (and transaction); the concurrency tests set their own
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
