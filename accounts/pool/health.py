"""Health of the portal's dependencies, for /healthz and make run."""

from django.db import connection
from django.db.utils import Error as DatabaseError

from accounts import cognito

HEALTHZ_BUDGET_SECONDS = 2  # a load balancer's probe gets its answer fast, even from a hung Cognito


def database_state() -> str:
    """Return 'ok', or why the database cannot be used."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        return f"unavailable: {exc.__class__.__name__}"


def cognito_state() -> str:
    """Return 'ok' when the configured pool answers within HEALTHZ_BUDGET_SECONDS, else why not."""
    try:
        with cognito.budget(HEALTHZ_BUDGET_SECONDS):
            cognito.pool_describe(cognito.pool_id())
        return "ok"
    except cognito.ResourceNotFound:
        return "pool not found"
    except cognito.CognitoTimeout:
        return "no answer in time"
    except cognito.CognitoUnavailable:
        return "unreachable"
    except cognito.Throttled:
        return "throttled"
    except cognito.CognitoError as exc:
        return f"error: {exc.code or exc.__class__.__name__}"
    except Exception as exc:  # ImproperlyConfigured: the pool ID is missing
        return f"not configured: {exc}"
