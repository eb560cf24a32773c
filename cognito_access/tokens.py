"""Verify Cognito ID and access tokens completely, with PyJWT; no framework needed.

A token longer than MAX_TOKEN_LENGTH is refused before it is parsed. RS256 only; the signature
against the pool's JWKS (fetched once, cached, refetched when an unknown `kid` appears, at most
once per refetch window; a failed download is remembered for `failure_seconds`, and a token whose
`kid` is known never waits for a download); `iss` equal to the pool's issuer; `exp`; `token_use`;
`aud` for ID tokens and `client_id` for access tokens. The portal's `accounts/tokens.py` is a thin
adapter over this module, so the portal and the applications follow the same rules.
"""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import jwt
import requests

ALGORITHM = "RS256"
TOKEN_USES = ("id", "access")
# Cognito's tokens are a few kilobytes; decoding megabytes of base64 and JSON costs seconds of CPU.
MAX_TOKEN_LENGTH = 8192
TOO_LONG = f"The token is too long (over {MAX_TOKEN_LENGTH} characters)."


class TokenError(Exception):
    """A token that must not be trusted; the message says why, without echoing the token."""


class KeysUnavailable(TokenError):
    """The pool's signing keys could not be read, so no token can be verified now."""


@dataclass(frozen=True)
class Claims:
    """The verified claims of one token."""

    raw: dict

    @property
    def sub(self) -> str:
        """Return the user's immutable identifier."""
        return self.raw["sub"]

    @property
    def token_use(self) -> str:
        """Return 'id' or 'access'."""
        return self.raw["token_use"]

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


def issuer_for(region: str, user_pool_id: str) -> str:
    """Return a pool's issuer URL, as Cognito writes it into `iss`."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def fetch_keys(url: str, timeout: tuple[float, float]) -> dict[str, jwt.PyJWK]:
    """Download a JWKS and return its signing keys by `kid` (an empty set is unreadable too)."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        key_set = jwt.PyJWKSet.from_dict(response.json())
    except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
        raise KeysUnavailable(f"The pool's signing keys could not be read ({exc.__class__.__name__}).") from None
    keys = {key.key_id: key for key in key_set.keys if key.key_id}
    if not keys:
        raise KeysUnavailable("The pool's signing keys could not be read (no key with a kid).")
    return keys


class KeySet:
    """A pool's public keys, fetched once and refetched only for an unknown `kid`.

    Thread-safe; one instance per process is enough. A known `kid` is answered from the cache
    without a lock, so it never waits behind a download; one download runs at a time, and one that
    failed is not retried for `failure_seconds`. Subclasses may turn `url`, `refetch_seconds` and
    `timeout` into properties read from elsewhere (the portal reads Django settings).
    """

    def __init__(
        self,
        url: str = "",
        *,
        refetch_seconds: float = 60,
        timeout: tuple[float, float] = (3, 10),
        failure_seconds: float = 10,
    ):
        self._config = (url, refetch_seconds, timeout, failure_seconds)
        self._lock = threading.Lock()  # held by the one download in progress
        self._cache: tuple[str, dict[str, jwt.PyJWK]] = ("", {})  # (url, keys), replaced whole
        self._fetched_at = self._failed_at = 0.0

    @property
    def url(self) -> str:
        """Return where the keys are published."""
        return self._config[0]

    @property
    def refetch_seconds(self) -> float:
        """Return the shortest time between two downloads caused by unknown `kid`s."""
        return self._config[1]

    @property
    def timeout(self) -> tuple[float, float]:
        """Return the (connect, read) timeout of a download."""
        return self._config[2]

    @property
    def failure_seconds(self) -> float:
        """Return how long a failed download is remembered before the next one is tried."""
        return self._config[3]

    def key(self, kid: str) -> jwt.PyJWK:
        """Return the key with this `kid`, refetching the set once when it is unknown."""
        url = self.url
        cached_url, cached = self._cache
        if cached_url == url and kid in cached:
            return cached[kid]
        with self._lock:
            return self._refetched(url, kid)

    def _refetched(self, url: str, kid: str) -> jwt.PyJWK:
        """Return the key after a download if one is due (the caller holds the lock)."""
        cached_url, cached = self._cache
        if cached_url != url:
            cached, self._fetched_at, self._failed_at = {}, 0.0, 0.0
            self._cache = (url, cached)
        if kid in cached:  # another thread's download brought it while this one waited
            return cached[kid]
        now = time.monotonic()
        if self._failed_at and now - self._failed_at < self.failure_seconds:
            raise KeysUnavailable("The pool's signing keys could not be read (the last download failed).")
        if cached and now - self._fetched_at < self.refetch_seconds:
            raise TokenError("The token was signed by an unknown key.")
        try:
            cached = self._fetch(url)
        except KeysUnavailable:
            self._failed_at = time.monotonic()
            raise
        self._cache, self._fetched_at, self._failed_at = (url, cached), time.monotonic(), 0.0
        if kid not in cached:
            raise TokenError("The token was signed by an unknown key.")
        return cached[kid]

    def clear(self) -> None:
        """Forget the cached keys and any failed download."""
        with self._lock:
            self._cache, self._fetched_at, self._failed_at = ("", {}), 0.0, 0.0

    def _fetch(self, url: str) -> dict[str, jwt.PyJWK]:
        """Download the key set."""
        return fetch_keys(url, self.timeout)


def _readable(token) -> str:
    """Return the token when it is a non-empty string of at most MAX_TOKEN_LENGTH, else raise TokenError."""
    if not isinstance(token, str) or not token:
        raise TokenError("The token is malformed.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(TOO_LONG)
    return token


def verify(token: str, *, token_use: str, issuer: str, client_ids: Iterable[str], keys: KeySet) -> Claims:
    """Verify a token of the given use ('id' or 'access') issued by `issuer` to one of `client_ids`."""
    allowed = [client for client in client_ids if client]
    if not allowed:
        raise TokenError("No app client is configured to accept this token.")
    if token_use not in TOKEN_USES:
        raise ValueError(f"token_use must be one of {TOKEN_USES}, not {token_use!r}.")
    _readable(token)
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
            issuer=issuer,
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


def declared_use(token: str) -> str:
    """Return the `token_use` a token claims to have, before it is verified ('' when unreadable)."""
    try:
        use = jwt.decode(_readable(token), options={"verify_signature": False}).get("token_use", "")
    except (TokenError, jwt.PyJWTError, AttributeError, TypeError):
        return ""
    return use if use in TOKEN_USES else ""


def verify_any(token: str, *, issuer: str, client_ids: Iterable[str], keys: KeySet) -> Claims:
    """Verify an ID or an access token, each with all the checks of its own use."""
    use = declared_use(_readable(token))
    if not use:
        raise TokenError("The token is malformed.")
    return verify(token, token_use=use, issuer=issuer, client_ids=client_ids, keys=keys)
