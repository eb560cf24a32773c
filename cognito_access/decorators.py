"""`require_application("billing")` for Django views. Django is imported only when a view runs."""

import threading
from collections.abc import Callable, Iterable
from functools import wraps

from cognito_access.access import Config, Verifier
from cognito_access.wsgi import decide

_lock = threading.Lock()
_verifiers: dict[tuple, Verifier] = {}


def settings_verifier() -> Verifier:
    """Return the Verifier for Django's settings.COGNITO_ACCESS (a dict of Config's fields), built once."""
    from django.conf import settings

    options = dict(getattr(settings, "COGNITO_ACCESS", None) or {})
    if not options:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("COGNITO_ACCESS is not set: give it region, user_pool_id and client_ids.")
    key = tuple(sorted((name, repr(value)) for name, value in options.items()))
    with _lock:
        if key not in _verifiers:
            for name in ("client_ids", "roles", "timeout"):
                if name in options and not isinstance(options[name], str):
                    options[name] = tuple(options[name])
            _verifiers[key] = Verifier(Config(**options))
        return _verifiers[key]


def bearer_from_request(request) -> str:
    """Return the token of the request's 'Authorization: Bearer <token>' header, or ''."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_application(
    application: str,
    *,
    roles: Iterable[str] | None = None,
    min_level: int = 1,
    verifier: Verifier | None = None,
    token_from: Callable | None = None,
) -> Callable:
    """Let a view run only for members of `application`; set request.cognito_access (role, level...).

    No or invalid token: 401 with WWW-Authenticate; not a member, or a role not in `roles`
    (below `min_level`): PermissionDenied, so the site's 403 page answers; keys unreadable: 503.
    """
    rules = {"roles": tuple(roles) if roles is not None else None, "min_level": min_level}

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            from django.core.exceptions import PermissionDenied
            from django.http import JsonResponse

            token = (token_from or bearer_from_request)(request)
            access, refused = decide(verifier or settings_verifier(), token, application, **rules)
            if refused:
                status, message = refused
                if status == 403:
                    raise PermissionDenied(message)
                response = JsonResponse({"error": message}, status=status)
                response["Cache-Control"] = "no-store"
                if status == 401:
                    response["WWW-Authenticate"] = 'Bearer realm="cognito"'
                return response
            request.cognito_access = access
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
