"""The applications' API, authenticated by the application's API key: the access check and the revocation feed.

`POST /api/v1/access-check`: `Authorization: Api-Key <key>`, JSON `{"token": "<the user's ID or access
token>", "application": "<name>"}`. Answer: `{"allowed", "role", "level", "applications"}` from the
directory index. A missing, wrong or revoked key, a token that fails verification and a token the portal
revoked (issued before the user was signed out everywhere) all get the same 401; a valid key asking about
another application than its own gets 403.

`GET /api/v1/revocations?after=<cursor>`: `{"revocations": [{"id", "sub", "not_before"}], "next", "more"}`,
oldest first; tokens of `sub` issued (`iat`) before `not_before` (Unix seconds) are void. Ask again with
`after=<next>`; while `more` is true, at once. `ends` carries the ends set on access, published when set:
`{"id", "sub", "application", "at", "fallback_role", "fallback_level", "cancelled"}`: from `at` on, the user may
not use `application` ("" : a temporary raise, after which they hold `fallback_role` at `fallback_level`) until a
later notice of the same user and application (`cancelled`: it no longer acts).
CSRF does not apply: no cookie authenticates these views, the key header does.

`GET /api/v1/events?after=<cursor>`: `{"events": [...], "next", "more"}`, the key's application's events
only, oldest first, with the same cursor rule. `POST /api/v1/events/poll` (RFC 8936): `{"ack": [jti...],
"maxEvents": n}` -> `{"sets": {jti: SET}, "moreAvailable"}` for the application's polled subscription;
acknowledged SETs are not served again. `GET /.well-known/jwks.json`: the keys of the portal's SETs.
"""

import json
import logging
from dataclasses import dataclass, field
from http import HTTPStatus

from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.applications import access_check as checks
from accounts.applications import ratelimit, usage
from accounts.directory import revocations
from accounts.events import selectors as event_selectors
from accounts.signin import tokens

logger = logging.getLogger("accounts.api")

UNAUTHORIZED = "Unauthorized: check the API key and the user's token."
TOO_LARGE = "The request body is too large."
BAD_REQUEST = 'Send JSON: {"token": "<ID or access token>", "application": "<name>"}.'
TOO_MANY = "Too many requests for this API key; retry after the Retry-After header's seconds."
UNAVAILABLE = "The access check cannot verify tokens right now; retry shortly."
OTHER_APPLICATION = "This API key is {application}'s: it may only ask about {application}."
BAD_CURSOR = "Send ?after=<the 'next' of the previous page> (0 or nothing for the beginning)."
BAD_POLL = 'Send JSON: {"ack": ["<jti>", ...], "maxEvents": <0 to 100>}.'
NO_POLL = "This application has no polled subscription: ask an administrator to add one."
NO_DATABASE = "The access check cannot read its index right now; retry shortly."


def _error(status: int, message: str, **headers) -> JsonResponse:
    """Return a JSON error (header names with '_' for '-')."""
    return _json(_refusal(status, message, **headers))


def _json(reply: "Reply") -> JsonResponse:
    """Return a reply as Django's JSON response."""
    return JsonResponse(reply.body, status=reply.status, headers=reply.headers)


@dataclass(frozen=True)
class Reply:
    """An answer of the access check before it is an HTTP response: its status, JSON body and extra headers."""

    status: int
    body: dict
    headers: dict = field(default_factory=dict)


def _refusal(status: int, message: str, **headers) -> Reply:
    """Return an error reply (header names with '_' for '-')."""
    return Reply(status, {"error": message}, {name.replace("_", "-"): value for name, value in headers.items()})


def _payload(body: bytes) -> tuple[str, str] | None:
    """Return (token, application) from the JSON body, or None when it is not that."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return None
    if not isinstance(data, dict):
        return None
    token, application = data.get("token"), data.get("application")
    if not isinstance(token, str) or not isinstance(application, str) or not token or not application:
        return None
    return token, application


def _too_large(meta: dict) -> bool:
    """Return True when the declared body exceeds the limit (nothing is read)."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > settings.PORTAL_ACCESS_CHECK_MAX_BODY_BYTES


def access_check_reply(request) -> Reply:
    """Answer an access-check POST (the view's and the WSGI endpoint's one logic); a database fault is a 503."""
    try:
        return _access_check_reply(request)
    except (OperationalError, InterfaceError):
        logger.error("access-check: the database cannot be reached")
        return _refusal(HTTPStatus.SERVICE_UNAVAILABLE, NO_DATABASE, Retry_After="30")


def _access_check_reply(request) -> Reply:
    """Answer whether the token's user may use the application, with their role, from the index."""
    if _too_large(request.META):
        return _refusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, TOO_LARGE)
    key = checks.key_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
    if key is None:
        logger.info("access-check refused: no valid API key")
        return _refusal(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    wait = ratelimit.hit(f"access-check:{key.key_id}", limit=settings.PORTAL_ACCESS_CHECK_RATE_PER_MINUTE, window=60)
    if wait:
        logger.warning("access-check throttled: key %s (%s)", key.key_id, key.application.name)
        return _refusal(HTTPStatus.TOO_MANY_REQUESTS, TOO_MANY, Retry_After=str(wait))
    payload = _payload(request.body)
    if payload is None:
        return _refusal(HTTPStatus.BAD_REQUEST, BAD_REQUEST)
    token, application = payload
    if application != key.application.name:
        logger.info("access-check refused: key %s is not %s's", key.key_id, application[:60])
        return _refusal(HTTPStatus.FORBIDDEN, OTHER_APPLICATION.format(application=key.application.name))
    try:
        claims = tokens.verify_remembered(token, checks.client_ids_for(key.application))
    except tokens.KeysUnavailable:
        logger.error("access-check: the pool's signing keys could not be read")
        return _refusal(HTTPStatus.SERVICE_UNAVAILABLE, UNAVAILABLE, Retry_After="30")
    except tokens.TokenError as exc:
        logger.info("access-check refused for key %s: %s", key.key_id, exc)
        return _refusal(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    try:
        answer = checks.answer_for(key=key, sub=claims.sub, issued_at=claims.raw["iat"], application=application)
    except checks.Revoked as exc:
        logger.info("access-check refused for key %s: sub=%s %s", key.key_id, claims.sub, exc)
        return _refusal(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    if answer.allowed:
        usage.use_record(sub=claims.sub, application=application)
    # An allowed check is the common case, thousands a second: DEBUG (DJANGO_LOG_LEVEL=DEBUG shows it).
    logger.log(
        logging.DEBUG if answer.allowed else logging.INFO,
        "access-check key=%s application=%s sub=%s allowed=%s role=%s%s",
        key.key_id,
        application,
        claims.sub,
        answer.allowed,
        answer.role or "-",
        answer.level or "",
    )
    return Reply(HTTPStatus.OK, answer.as_dict())


@csrf_exempt
@never_cache
@require_POST
def access_check(request):
    """Answer whether the token's user may use the application (accounts.applications.endpoint serves it in
    production, straight from WSGI; this view serves it everywhere else, with the same answers)."""
    return _json(access_check_reply(request))


def _cursor(value: str) -> int | None:
    """Return the feed cursor (a non-negative integer), or None when it is not one."""
    value = (value or "0").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _feed_key(request, scope: str):
    """Return (the request's API key, None), or (None, the refusal: 401 without a valid key, 429 over its rate)."""
    key = checks.key_from_header(request.headers.get("Authorization", ""), cached=False)  # a revoked key: at once
    if key is None:
        return None, _error(HTTPStatus.UNAUTHORIZED, UNAUTHORIZED, WWW_Authenticate="Api-Key")
    wait = ratelimit.hit(f"{scope}:{key.key_id}", limit=settings.PORTAL_ACCESS_CHECK_RATE_PER_MINUTE, window=60)
    if wait:
        return None, _error(HTTPStatus.TOO_MANY_REQUESTS, TOO_MANY, Retry_After=str(wait))
    return key, None


def _feed_request(request, scope: str):
    """Return (key, cursor, None) for a feed's GET, or (None, None, the refusal: 401, 429, 400 for a bad cursor)."""
    key, refused = _feed_key(request, scope)
    if refused:
        return None, None, refused
    after = _cursor(request.GET.get("after", ""))
    if after is None:
        return None, None, _error(HTTPStatus.BAD_REQUEST, BAD_CURSOR)
    return key, after, None


@never_cache
@require_GET
def revocation_feed(request):
    """Serve the revocations after the cursor to an application's key."""
    _key, after, refused = _feed_request(request, "revocations")
    if refused:
        return refused
    page = revocations.feed_page(after=after)
    rows = [
        {"id": row.id, "sub": row.sub, "not_before": row.not_before.timestamp()} for row in page.rows if not row.scope
    ]
    notices = [_end_notice(row) for row in page.rows if row.scope == "end"]
    return JsonResponse({"revocations": rows, "ends": notices, "next": str(page.next), "more": page.more})


def _end_notice(row) -> dict:
    """Return an end notice as the feed serves it."""
    return {
        "id": row.id,
        "sub": row.sub,
        "application": row.application,
        "at": row.not_before.timestamp(),
        "fallback_role": row.fallback_role,
        "fallback_level": row.fallback_level,
        "cancelled": row.cancelled,
    }


@never_cache
@require_GET
def event_feed(request):
    """Serve the key's application's events after the cursor."""
    key, after, refused = _feed_request(request, "events")
    if refused:
        return refused
    page = event_selectors.feed_page(application=key.application.name, after=after)
    return JsonResponse({"events": page.events, "next": str(page.next), "more": page.more})


def _poll_request(request) -> tuple[list[str], int] | None:
    """Return (acknowledged jtis, maxEvents) from an RFC 8936 poll body, or None when it is not one."""
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    ack, most = data.get("ack", []), data.get("maxEvents", event_selectors.POLL_MAX)
    if not isinstance(ack, list) or not all(isinstance(jti, str) for jti in ack) or len(ack) > 1000:
        return None
    if not isinstance(most, int) or isinstance(most, bool) or not 0 <= most <= event_selectors.POLL_MAX:
        return None
    return ack, most


@csrf_exempt
@never_cache
@require_POST
def event_poll(request):
    """Acknowledge SETs and return the next ones (RFC 8936, returnImmediately)."""
    key, refused = _feed_key(request, "events")
    if refused:
        return refused
    asked = _poll_request(request)
    if asked is None:
        return _error(HTTPStatus.BAD_REQUEST, BAD_POLL)
    subscription = event_selectors.poll_subscription(key.application.name)
    if subscription is None:
        return _error(HTTPStatus.NOT_FOUND, NO_POLL)
    ack, most = asked
    found, more = event_selectors.poll_answer(
        subscription=subscription, ack=ack, limit=most, pool_issuer=tokens.issuer()
    )
    return JsonResponse({"sets": found, "moreAvailable": more})


@never_cache
@require_GET
def events_jwks(request):
    """Publish the public keys of the portal's Security Event Tokens."""
    return JsonResponse(event_selectors.jwks())
