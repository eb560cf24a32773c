"""Verify Cognito ID and access tokens: the portal's adapter over `cognito_access.tokens`.

The rules live in one place, `cognito_access` (the package the applications vendor): RS256
only; the signature against the pool's JWKS (fetched once, cached, refetched when an unknown
`kid` appears, at most once a COGNITO_JWKS_REFETCH_SECONDS); `iss` equal to the pool's
issuer; `exp`; `token_use`; `aud` for ID tokens and `client_id` for access tokens. This
module only feeds them Django settings.
"""

import hashlib
import time
from collections.abc import Iterable

from django.conf import settings

from accounts import cognito
from cognito_access import tokens as core
from cognito_access.tokens import ALGORITHM, Claims, KeysUnavailable, TokenError  # noqa: F401  (re-exported)


def issuer(user_pool_id: str | None = None) -> str:
    """Return the pool's issuer URL, as Cognito writes it into `iss`."""
    return core.issuer_for(settings.COGNITO_REGION, user_pool_id or settings.COGNITO_USER_POOL_ID)


def jwks_url() -> str:
    """Return where the pool's signing keys are published (the emulator serves them itself)."""
    if settings.COGNITO_JWKS_URL:
        return settings.COGNITO_JWKS_URL
    if settings.COGNITO_ENDPOINT_URL:
        return f"{settings.COGNITO_ENDPOINT_URL.rstrip('/')}/{settings.COGNITO_USER_POOL_ID}/.well-known/jwks.json"
    return f"{issuer()}/.well-known/jwks.json"


class KeySet(core.KeySet):
    """The pool's public keys, with the URL, refetch window and timeouts read from Django settings."""

    @property
    def url(self) -> str:
        """Return the configured JWKS URL."""
        return jwks_url()

    @property
    def refetch_seconds(self) -> float:
        """Return COGNITO_JWKS_REFETCH_SECONDS."""
        return settings.COGNITO_JWKS_REFETCH_SECONDS

    @property
    def timeout(self) -> tuple[float, float]:
        """Return the Cognito timeouts, within the request's budget when there is one."""
        return cognito.http_timeouts()

    @staticmethod
    def _fetch(url: str) -> dict:
        """Download the key set with the Cognito timeouts, within the request's budget when there is one."""
        return core.fetch_keys(url, cognito.http_timeouts())


keys = KeySet()
# The tokens the access check verified in this process, by (SHA-256, the clients asked for): (the key set they
# were verified with, their claims). Never the token itself.
_verified: dict[tuple[bytes, tuple[str, ...]], tuple[object, Claims]] = {}


def verify(token: str, *, token_use: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify a token of the given use ('id' or 'access') issued to one of `client_ids` (default: the portal)."""
    allowed = list(client_ids if client_ids is not None else [settings.COGNITO_APP_CLIENT_ID])
    return core.verify(token, token_use=token_use, issuer=issuer(), client_ids=allowed, keys=keys)


def verify_any(token: str, client_ids: Iterable[str]) -> Claims:
    """Verify an ID or access token issued to one of `client_ids`, each with the checks of its own use."""
    return core.verify_any(token, issuer=issuer(), client_ids=list(client_ids), keys=keys)


def verify_id_token(token: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify an ID token issued to the portal (or to one of `client_ids`)."""
    return verify(token, token_use="id", client_ids=client_ids)


def verify_access_token(token: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify an access token issued to the portal (or to one of `client_ids`)."""
    return verify(token, token_use="access", client_ids=client_ids)


def verify_remembered(token: str, client_ids: list[str]) -> Claims:
    """Verify an ID or access token as verify_any does, unless this process verified it before.

    A token verified here for the same clients, with the key set still held, is not verified again: its
    signature, issuer and claims cannot have changed. Its expiry can, so it is checked every time. At most
    PORTAL_ACCESS_CHECK_VERIFIED_TOKENS are remembered (0: every token is verified every time).
    """
    remembered = (hashlib.sha256(token.encode()).digest(), tuple(client_ids))
    found = _verified.get(remembered)
    if found and found[0] is keys.generation and time.time() < found[1].raw["exp"]:
        return found[1]
    _verified.pop(remembered, None)
    claims = verify_any(token, client_ids)  # raises for an expired token, with the reason
    if settings.PORTAL_ACCESS_CHECK_VERIFIED_TOKENS:
        if len(_verified) >= settings.PORTAL_ACCESS_CHECK_VERIFIED_TOKENS:
            _verified.clear()
        _verified[remembered] = (keys.generation, claims)
    return claims


def forget_verified() -> None:
    """Forget the tokens this process verified."""
    _verified.clear()
