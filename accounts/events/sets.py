"""Security Event Tokens (RFC 8417) with the OpenID CAEP event types, signed with the portal's own key.

Each outbox event becomes one SET: `iss` the portal (PORTAL_EVENTS_ISSUER), `aud` the application, `jti` the
event id (the same on every retry), `sub_id` in the `iss_sub` format (the pool's issuer and the user's sub),
and one event: `session-revoked` for sign-outs, disabling and deleting, `token-claims-change` for role and
access changes (the CAEP Interoperability Profile's two events). The keys are RSA 2048, RS256, published
with their `kid` at /.well-known/jwks.json; a rotation retires the signing key but keeps publishing it a day.
"""

import secrets
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import OutboxEvent, SigningKey

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SESSION_REVOKED, CLAIMS_CHANGE = f"{CAEP}session-revoked", f"{CAEP}token-claims-change"
# Event type -> CAEP event; an event type not here (user.enabled) is not offered as a SET.
CAEP_EVENTS = {
    "user.signed_out": SESSION_REVOKED,
    "user.disabled": SESSION_REVOKED,
    "user.deleted": SESSION_REVOKED,
    "access.granted": CLAIMS_CHANGE,
    "access.revoked": CLAIMS_CHANGE,
    "access.changed": CLAIMS_CHANGE,
    "access.extended": CLAIMS_CHANGE,
    "access.expired": CLAIMS_CHANGE,
    "role.changed": CLAIMS_CHANGE,
    "role.raised": CLAIMS_CHANGE,
    "role.raise_ended": CLAIMS_CHANGE,
    "directory.changed": CLAIMS_CHANGE,
}
CLAIMS_SHOWN = ("role", "applications", "enabled")
SET_TYPE = "secevent+jwt"
ALGORITHM = "RS256"
PUBLISHED_AFTER_RETIREMENT = timedelta(days=1)


def key_create() -> SigningKey:
    """Make a new RSA signing key and retire the one in use (it stays published a day)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with transaction.atomic():
        SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        return SigningKey.objects.create(kid=secrets.token_hex(8), private_pem=pem)


def signing_key() -> SigningKey:
    """Return the key that signs now, making the first one when there is none."""
    return SigningKey.objects.filter(retired_at__isnull=True).first() or key_create()


def jwks() -> dict:
    """Return the public keys (current and recently retired) as a JSON Web Key Set."""
    horizon = timezone.now() - PUBLISHED_AFTER_RETIREMENT
    keys = []
    for key in SigningKey.objects.exclude(retired_at__lt=horizon):
        public = serialization.load_pem_private_key(key.private_pem.encode(), password=None).public_key()
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": ALGORITHM})
    return {"keys": keys}


def caep_event(event: OutboxEvent) -> dict | None:
    """Return {event URI: payload} for an outbox event, or None when it has no CAEP equivalent."""
    uri = CAEP_EVENTS.get(event.type)
    if uri is None:
        return None
    payload = {"event_timestamp": int(event.at.timestamp()), "initiating_entity": "admin"}
    payload["reason_admin"] = {"en": event.type}
    if uri == CLAIMS_CHANGE:
        payload["claims"] = {key: value for key, value in event.after.items() if key in CLAIMS_SHOWN}
    return {uri: payload}


def set_claims(event: OutboxEvent, *, audience: str, pool_issuer: str) -> dict | None:
    """Return the SET's claims for one outbox event and one audience, or None when it has no SET."""
    events = caep_event(event)
    if events is None:
        return None
    return {
        "iss": settings.PORTAL_EVENTS_ISSUER,
        "aud": audience,
        "iat": int(timezone.now().timestamp()),
        "jti": str(event.pk),
        "txn": str(event.audit_event_id or event.pk),
        "sub_id": {"format": "iss_sub", "iss": pool_issuer, "sub": event.sub},
        "events": events,
        "portal": {"type": event.type, "at": event.at.timestamp(), "applications": event.applications},
    }


def set_sign(claims: dict) -> str:
    """Sign the claims as a SET with the current key."""
    key = signing_key()
    return jwt.encode(claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": SET_TYPE})
