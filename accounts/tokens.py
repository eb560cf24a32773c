"""Verify Cognito ID and access tokens completely, with PyJWT.

RS256 only; the signature against the pool's JWKS (fetched once, cached, refetched when
an unknown `kid` appears, at most once a COGNITO_JWKS_REFETCH_SECONDS); `iss` equal to
the pool's issuer; `exp`; `token_use`; `aud` for ID tokens and `client_id` for access
tokens. The applications' access check uses the same rules.
"""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt
import requests
from django.conf import settings

ALGORITHM = "RS256"


class TokenError(Exception):
    """A token that must not be trusted; the message says why, without echoing the token."""


@dataclass(frozen=True)
class Claims:
    """The verified claims of one token."""

    raw: dict

    @property
    def sub(self) -> str:
        """Return the user's immutable identifier."""
        return self.raw["sub"]

    @property
    def username(self) -> str:
        """Return the Cognito username (the sub in an email-sign-in pool)."""
        return self.raw.get("cognito:username") or self.raw.get("username") or self.sub

    @property
    def email(self) -> str:
        """Return the email claim (ID tokens only)."""
        return (self.raw.get("email") or "").lower()

    @property
    def groups(self) -> tuple[str, ...]:
        """Return the user's Cognito groups."""
        return tuple(self.raw.get("cognito:groups") or ())

    @property
    def expires_at(self) -> int:
        """Return the expiry as a Unix time."""
        return int(self.raw["exp"])


def issuer(user_pool_id: str | None = None) -> str:
    """Return the pool's issuer URL, as Cognito writes it into `iss`."""
    pool = user_pool_id or settings.COGNITO_USER_POOL_ID
    return f"https://cognito-idp.{settings.COGNITO_REGION}.amazonaws.com/{pool}"


def jwks_url() -> str:
    """Return where the pool's signing keys are published (the emulator serves them itself)."""
    if settings.COGNITO_JWKS_URL:
        return settings.COGNITO_JWKS_URL
    if settings.COGNITO_ENDPOINT_URL:
        return f"{settings.COGNITO_ENDPOINT_URL.rstrip('/')}/{settings.COGNITO_USER_POOL_ID}/.well-known/jwks.json"
    return f"{issuer()}/.well-known/jwks.json"


class KeySet:
    """The pool's public keys, fetched once and refetched only for an unknown `kid`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._url = ""
        self._fetched_at = 0.0

    def key(self, kid: str) -> jwt.PyJWK:
        """Return the key with this `kid`, refetching the set once when it is unknown."""
        url = jwks_url()
        with self._lock:
            if url != self._url:
                self._keys, self._url, self._fetched_at = {}, url, 0.0
            stale = time.monotonic() - self._fetched_at >= settings.COGNITO_JWKS_REFETCH_SECONDS
            if kid not in self._keys and (not self._keys or stale):
                self._keys = self._fetch(url)
                self._fetched_at = time.monotonic()
            if kid not in self._keys:
                raise TokenError("The token was signed by an unknown key.")
            return self._keys[kid]

    def clear(self) -> None:
        """Forget the cached keys."""
        with self._lock:
            self._keys, self._url, self._fetched_at = {}, "", 0.0

    @staticmethod
    def _fetch(url: str) -> dict[str, jwt.PyJWK]:
        """Download the JWKS and keep its RS256 signing keys by `kid`."""
        try:
            response = requests.get(url, timeout=(settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT))
            response.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
            raise TokenError(f"The pool's signing keys could not be read ({exc.__class__.__name__}).") from None
        return {key.key_id: key for key in key_set.keys if key.key_id}


keys = KeySet()


def verify(token: str, *, token_use: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify a token of the given use ('id' or 'access') issued to one of `client_ids`."""
    allowed = list(client_ids if client_ids is not None else [settings.COGNITO_APP_CLIENT_ID])
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("The token is malformed.") from None
    if header.get("alg") != ALGORITHM:
        raise TokenError("The token is not signed with RS256.")
    key = keys.key(str(header.get("kid", "")))
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[ALGORITHM],
            issuer=issuer(),
            audience=allowed if token_use == "id" else None,
            options={"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": token_use == "id"},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("The token has expired.") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"The token is not valid ({exc.__class__.__name__}).") from None
    if claims.get("token_use") != token_use:
        raise TokenError(f"This is not an {token_use} token.")
    if token_use == "access" and claims.get("client_id") not in allowed:
        raise TokenError("The token was issued to another client.")
    return Claims(claims)


def verify_id_token(token: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify an ID token issued to the portal (or to one of `client_ids`)."""
    return verify(token, token_use="id", client_ids=client_ids)


def verify_access_token(token: str, client_ids: Iterable[str] | None = None) -> Claims:
    """Verify an access token issued to the portal (or to one of `client_ids`)."""
    return verify(token, token_use="access", client_ids=client_ids)
