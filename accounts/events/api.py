"""The applications' event API, authenticated by the application's API key, and the portal's JWKS.

`GET /api/v1/events?after=<cursor>`: `{"events": [...], "next", "more"}`, the key's application's events only,
oldest first (the same cursor rules as the revocation feed).
`POST /api/v1/events/poll` (RFC 8936): `{"ack": [jti...], "maxEvents": n}` -> `{"sets": {jti: SET},
"moreAvailable"}` for the application's polled subscription; acknowledged SETs are not served again.
`GET /.well-known/jwks.json`: the public keys that sign the portal's Security Event Tokens.
"""

import json
from http import HTTPStatus

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.applications import selectors as app_selectors
from accounts.events import selectors, sets
from accounts.models import Delivery
from cognito_access.tokens import issuer_for

UNAUTHORIZED = "Unauthorized: check the API key."
BAD_CURSOR = "Send ?after=<the 'next' of the previous page> (0 or nothing for the beginning)."
BAD_POLL = 'Send JSON: {"ack": ["<jti>", ...], "maxEvents": <0 to 100>}.'
NO_POLL = "This application has no polled subscription: ask an administrator to add one."
TOO_MANY = "Too many requests for this API key; retry after the Retry-After header's seconds."


def _error(status: int, message: str, **headers) -> JsonResponse:
    """Return a JSON error."""
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _cursor(value: str) -> int | None:
    """Return the cursor (a non-negative integer), or None when it is not one."""
    value = (value or "0").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _key(request):
    """Return the request's valid API key, or None; a JSON error response when throttled."""
    return app_selectors.api_key_authenticate(request.headers.get("Authorization", ""), scope="events")


@never_cache
@require_GET
def event_feed(request):
    """Serve the key's application's events after the cursor."""
    key, refused = _key(request)
    if refused:
        return _error(HTTPStatus.TOO_MANY_REQUESTS, TOO_MANY, Retry_After=str(refused))
    if key is None:
        return _error(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    after = _cursor(request.GET.get("after", ""))
    if after is None:
        return _error(HTTPStatus.BAD_REQUEST, BAD_CURSOR)
    page = selectors.feed_page(application=key.application.name, after=after)
    return JsonResponse({"events": page.events, "next": str(page.next), "more": page.more})


def _poll_request(request) -> tuple[list[str], int] | None:
    """Return (acknowledged jtis, maxEvents) from an RFC 8936 poll body, or None when it is not one."""
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    ack, most = data.get("ack", []), data.get("maxEvents", selectors.POLL_MAX)
    if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack) or len(ack) > 1000:
        return None
    if not isinstance(most, int) or isinstance(most, bool) or not 0 <= most <= selectors.POLL_MAX:
        return None
    return ack, most


@csrf_exempt
@never_cache
@require_POST
def event_poll(request):
    """Acknowledge SETs and return the next ones (RFC 8936, returnImmediately)."""
    key, refused = _key(request)
    if refused:
        return _error(HTTPStatus.TOO_MANY_REQUESTS, TOO_MANY, Retry_After=str(refused))
    if key is None:
        return _error(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    asked = _poll_request(request)
    if asked is None:
        return _error(HTTPStatus.BAD_REQUEST, BAD_POLL)
    subscription = selectors.poll_subscription(key.application.name)
    if subscription is None:
        return _error(HTTPStatus.NOT_FOUND, NO_POLL)
    ack, most = asked
    acked = [int(jti) for jti in ack if jti.isascii() and jti.isdigit() and len(jti) <= 18]
    Delivery.objects.filter(subscription=subscription, event_id__in=acked, status=Delivery.PENDING).update(
        status=Delivery.DELIVERED, delivered_at=timezone.now()
    )
    found, more = selectors.poll_sets(subscription=subscription, limit=most, pool_issuer=pool_issuer())
    return JsonResponse({"sets": found, "moreAvailable": more})


def pool_issuer() -> str:
    """Return the pool's issuer URL (the `iss` of the SETs' `sub_id`)."""
    return issuer_for(settings.COGNITO_REGION, settings.COGNITO_USER_POOL_ID)


@never_cache
@require_GET
def jwks(request):
    """Publish the public keys of the portal's Security Event Tokens."""
    return JsonResponse(sets.jwks())
