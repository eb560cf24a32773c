"""A plain WSGI middleware: only users of one application get through, with their role attached."""

import json
import logging
from collections.abc import Callable, Iterable

from cognito_access.access import Forbidden, Verifier
from cognito_access.tokens import KeysUnavailable, TokenError

logger = logging.getLogger("cognito_access")

ENVIRON_KEY = "cognito_access.access"
NO_TOKEN = "Sign in first: send the token as 'Authorization: Bearer <token>'."
BAD_TOKEN = "The token is not valid."
NO_KEYS = "The sign-in service cannot be checked right now. Try again in a moment."

_REASONS = {401: "Unauthorized", 403: "Forbidden", 503: "Service Unavailable"}


def bearer_token(environ: dict) -> str:
    """Return the token of an 'Authorization: Bearer <token>' header, or ''."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def refusal(status: int, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Return (status line, headers, body) of a JSON refusal."""
    body = json.dumps({"error": message}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="cognito"'))
    if status == 503:
        headers.append(("Retry-After", "30"))
    return f"{status} {_REASONS[status]}", headers, body


def decide(verifier: Verifier, token: str, application: str, **rules):
    """Return (Access, None), or (None, (status, message)) for a refusal; never raises for bad tokens."""
    if not token:
        return None, (401, NO_TOKEN)
    try:
        return verifier.check(token, application, **rules), None
    except KeysUnavailable as exc:
        logger.warning("cognito_access: %s", exc)
        return None, (503, NO_KEYS)
    except TokenError as exc:
        logger.info("cognito_access: token refused for %s: %s", application, exc)
        return None, (401, BAD_TOKEN)
    except Forbidden as exc:
        return None, (403, str(exc))


class AccessMiddleware:
    """Let through only requests carrying a valid token of a member of `application`.

    The Access (role, level, applications, claims) is put in environ['cognito_access.access'].
    Missing or invalid token: 401; valid but not a member (or a role not in `roles`): 403;
    the pool's keys unreadable: 503.
    """

    def __init__(
        self,
        app: Callable,
        verifier: Verifier,
        application: str,
        *,
        token_from: Callable[[dict], str] = bearer_token,
        roles: Iterable[str] | None = None,
        min_level: int = 1,
    ):
        self.app, self.verifier, self.application = app, verifier, application
        self.token_from, self.rules = token_from, {"roles": roles, "min_level": min_level}

    def __call__(self, environ: dict, start_response: Callable):
        access, refused = decide(self.verifier, self.token_from(environ), self.application, **self.rules)
        if refused:
            status, headers, body = refusal(*refused)
            start_response(status, headers)
            return [body]
        environ[ENVIRON_KEY] = access
        return self.app(environ, start_response)
