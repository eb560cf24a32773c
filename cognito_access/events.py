"""Receive the portal's events, so that `Verifier.check` refuses a token made stale by a change at once.

The portal pushes each change (a role change, a revoked application, a sign-out, a disabled or deleted
account) as a Standard Webhook signed with the subscription's secret, or as a Security Event Token (RFC 8417,
pushed per RFC 8935) signed with the portal's key. A `Receiver` verifies either, drops a repeat (the same
`webhook-id` or `jti`), and records in an `EventStore` per user "tokens issued before T are void" (sign-outs,
disabling, deleting, revoking) or "claims changed at T" (role and access changes). A Verifier given the store
refuses a token issued before either.

    store = MemoryStore()
    verifier = Verifier(config, events=store)
    receiver = Receiver(store=store, secret="whsec_...")               # webhooks
    receiver = Receiver(store=store, set_keys=KeySet(".../.well-known/jwks.json"),
                        set_issuer="https://portal.example.com", audience="billing")   # SETs
    # Django: path("events", django_view(receiver))   WSGI: EventsEndpoint(receiver)
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import jwt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cognito_access.tokens import KeySet, KeysUnavailable, TokenError

logger = logging.getLogger("cognito_access")

KEEP_SECONDS = 86400  # no Cognito token lives longer than a day: older marks are moot
SEEN_SECONDS = 900  # a delivery's timestamp is accepted 5 minutes either way: its id is kept longer than that
MAX_BODY = 256 * 1024
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SESSION_REVOKED, CLAIMS_CHANGE = f"{CAEP}session-revoked", f"{CAEP}token-claims-change"
# Webhook types after which the user's earlier tokens are void; every other type changes their claims.
VOIDING = {"user.signed_out", "user.disabled", "user.deleted", "access.revoked", "access.expired"}
IGNORED = {"user.enabled"}  # nothing an earlier token claimed is wrong after it

VOIDED = "The token was revoked: its user was signed out in the portal since it was issued."
CHANGED = "The token's claims are out of date: its user's role or access changed since; sign in again."
BAD_SIGNATURE = "The event's signature, timestamp or headers did not verify."
BAD_SET = "The Security Event Token did not verify."
BAD_BODY = "The event is not one the portal sends."
NO_KEYS = "The portal's signing keys could not be read."
TOO_LARGE = "The event is too large."


class EventStore(Protocol):
    """Where received marks are kept: memory by default; a shared store (Redis, a table) for several processes."""

    def mark(self, sub: str, at: float, *, voided: bool) -> None:
        """Record that the user's tokens issued before `at` are void (voided) or carry stale claims."""

    def refusal(self, sub: str, issued_at: float) -> str:
        """Return why a token of the user issued at `issued_at` is refused, or ''."""

    def first_time(self, message_id: str) -> bool:
        """Record a message id; return False when it was seen already."""


class MemoryStore:
    """An EventStore in this process's memory, thread-safe; marks are kept a day, message ids 15 minutes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._marks: dict[str, tuple[float, float]] = {}  # sub -> (voided before, claims changed at)
        self._seen: dict[str, float] = {}

    def mark(self, sub: str, at: float, *, voided: bool) -> None:
        """Record a mark, keeping the latest of each kind."""
        with self._lock:
            void, changed = self._marks.get(sub, (0.0, 0.0))
            self._marks[sub] = (max(void, at), changed) if voided else (void, max(changed, at))
            self._forget(time.time())

    def refusal(self, sub: str, issued_at: float) -> str:
        """Return VOIDED or CHANGED when the token predates a mark, else ''."""
        with self._lock:
            void, changed = self._marks.get(sub, (0.0, 0.0))
        if issued_at < void:
            return VOIDED
        return CHANGED if issued_at < changed else ""

    def first_time(self, message_id: str) -> bool:
        """Record the id; return False for a repeat."""
        now = time.time()
        with self._lock:
            if message_id in self._seen:
                return False
            self._seen[message_id] = now
            self._forget(now)
            return True

    def _forget(self, now: float) -> None:
        """Drop marks and ids too old to matter (every so often: the dicts stay small)."""
        if len(self._seen) > 10000:
            self._seen = {key: at for key, at in self._seen.items() if at > now - SEEN_SECONDS}
        if len(self._marks) > 100000:
            self._marks = {sub: at for sub, at in self._marks.items() if max(at) > now - KEEP_SECONDS}


class Receiver:
    """Verify and apply the portal's events; `receive()` answers (HTTP status, JSON body) and never raises."""

    def __init__(
        self,
        *,
        store: EventStore,
        secret: str = "",
        previous_secret: str = "",
        set_keys: KeySet | None = None,
        set_issuer: str = "",
        audience: str = "",
    ):
        if not secret and set_keys is None:
            raise ValueError("cognito_access.Receiver needs a webhook secret or the portal's SET keys.")
        self.store, self.audience, self.set_issuer, self.set_keys = store, audience, set_issuer, set_keys
        self._webhooks = [Webhook(value) for value in (secret, previous_secret) if value]

    def receive(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict]:
        """Verify one delivery and apply it; return the answer to send."""
        headers = {key.lower(): value for key, value in headers.items()}
        if len(body) > MAX_BODY:
            return 413, {"error": TOO_LARGE}
        if headers.get("content-type", "").split(";")[0].strip() == "application/secevent+jwt":
            return self._receive_set(body)
        return self._receive_webhook(headers, body)

    def _receive_webhook(self, headers: dict, body: bytes) -> tuple[int, dict]:
        """Verify a Standard Webhook with the secret (or the previous one) and apply it."""
        payload = None
        for webhook in self._webhooks:
            try:
                payload = webhook.verify(body, headers)
                break
            except (WebhookVerificationError, ValueError, UnicodeDecodeError):
                continue
        if payload is None:
            logger.warning("cognito_access: event refused: %s", BAD_SIGNATURE)
            return 401, {"error": BAD_SIGNATURE}
        try:
            kind, data = str(payload["type"]), payload["data"]
            sub, at = str(data["sub"]), float(data["at"])
        except (KeyError, TypeError, ValueError):
            return 400, {"error": BAD_BODY}
        if not self.store.first_time(f"wh:{headers['webhook-id']}"):
            logger.info("cognito_access: repeated event %s dropped", headers["webhook-id"][:80])
            return 200, {"duplicate": True}
        if kind not in IGNORED:
            self.store.mark(sub, at, voided=kind in VOIDING)
        return 200, {"received": True}

    def _receive_set(self, body: bytes) -> tuple[int, dict]:
        """Verify a Security Event Token with the portal's keys and apply its CAEP event (RFC 8935 answers)."""
        if self.set_keys is None:
            return 400, {"err": "invalid_request", "description": BAD_SET}
        try:
            token = body.decode("ascii").strip()
            header = jwt.get_unverified_header(token)
            if header.get("typ") != "secevent+jwt" or header.get("alg") != "RS256":
                raise jwt.InvalidTokenError("typ or alg")
            key = self.set_keys.key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self.audience or None,
                issuer=self.set_issuer or None,
                options={"require": ["iss", "iat", "jti", "events"], "verify_aud": bool(self.audience)},
            )
        except KeysUnavailable:
            return 503, {"err": "invalid_key", "description": NO_KEYS}
        except (jwt.PyJWTError, TokenError, UnicodeDecodeError, ValueError) as exc:
            logger.warning("cognito_access: SET refused: %s", exc.__class__.__name__)
            return 400, {"err": "authentication_failed", "description": BAD_SET}
        return self._apply_set(claims)

    def _apply_set(self, claims: dict) -> tuple[int, dict]:
        """Apply a verified SET's events."""
        try:
            sub = str(claims["sub_id"]["sub"])
            events = dict(claims["events"])
        except (KeyError, TypeError, ValueError):
            return 400, {"err": "invalid_request", "description": BAD_BODY}
        if not self.store.first_time(f"set:{claims['jti']}"):
            return 202, {}
        at_portal = (claims.get("portal") or {}).get("at") if isinstance(claims.get("portal"), dict) else None
        for uri, payload in events.items():
            if uri not in (SESSION_REVOKED, CLAIMS_CHANGE) or not isinstance(payload, dict):
                continue
            at = float(at_portal or payload.get("event_timestamp", claims["iat"]))
            self.store.mark(sub, at, voided=uri == SESSION_REVOKED)
        return 202, {}


class EventsEndpoint:
    """A WSGI app that receives the portal's events at any path it is mounted on (POST only)."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver

    def __call__(self, environ: dict, start_response: Callable):
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, {"error": "POST only."})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            return _answer(start_response, 413, {"error": TOO_LARGE})
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        return _answer(start_response, *self.receiver.receive(headers, body))


_STATUS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}


def _answer(start_response: Callable, status: int, body: dict):
    """Send a JSON answer."""
    data = json.dumps(body).encode()
    reason = _STATUS.get(status, {413: "Content Too Large", 503: "Service Unavailable"}.get(status, "Error"))
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def django_view(receiver: Receiver) -> Callable:
    """Return a Django view (CSRF-exempt, POST only) that receives the portal's events."""

    def receive(request):
        from django.http import JsonResponse

        if request.method != "POST":
            return JsonResponse({"error": "POST only."}, status=405)
        status, body = receiver.receive(dict(request.headers), request.body)
        return JsonResponse(body, status=status)

    receive.csrf_exempt = True
    return receive
