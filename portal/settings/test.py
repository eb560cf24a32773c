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
PORTAL_BULK_RATE_PER_SECOND = 1000  # tests that check the pacing set their own rate
PORTAL_SYNC_USERLIST_QUOTA_PER_SECOND = 100000  # tests that check the sync's pacing set their own quota
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
