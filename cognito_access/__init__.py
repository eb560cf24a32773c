"""cognito_access: check, in an application, that a Cognito user may use it and with which role.

    from cognito_access import Config, Verifier
    verifier = Verifier(Config(region="eu-west-1", user_pool_id="eu-west-1_AbC", client_ids=["<app client>"]))
    access = verifier.check(token, "billing")      # TokenError -> 401, Forbidden -> 403
    access.role, access.level, access.applications

Django views: `from cognito_access.decorators import require_application`. Plain WSGI:
`from cognito_access.wsgi import AccessMiddleware`. The portal's pushed events: `Receiver` with a
`MemoryStore` given to the Verifier (`cognito_access.events`). This package never imports Django itself.
"""

from cognito_access.access import (
    Access,
    Config,
    Forbidden,
    Verifier,
    applications_of,
    held_roles,
    role_attribute,
    role_of,
)
from cognito_access.events import EventsEndpoint, EventStore, MemoryStore, Receiver, django_view
from cognito_access.revocations import FeedUnavailable, RevocationFeed
from cognito_access.tokens import Claims, KeySet, KeysUnavailable, TokenError, issuer_for, verify, verify_any

__version__ = "1.0.0"

__all__ = [
    "Access",
    "Claims",
    "Config",
    "EventStore",
    "EventsEndpoint",
    "FeedUnavailable",
    "Forbidden",
    "KeySet",
    "KeysUnavailable",
    "MemoryStore",
    "Receiver",
    "RevocationFeed",
    "TokenError",
    "Verifier",
    "applications_of",
    "django_view",
    "held_roles",
    "issuer_for",
    "role_attribute",
    "role_of",
    "verify",
    "verify_any",
]
