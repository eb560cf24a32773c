"""Verify Cognito ID and access tokens completely, with PyJWT; no framework needed.

A token longer than MAX_TOKEN_LENGTH is refused before it is parsed. RS256 only; the signature
against the pool's JWKS (fetched once, cached, refetched when an unknown `kid` appears, at most
once per refetch window; a failed download is remembered for `failure_seconds`, and a token whose
`kid` is known never waits for a download); `iss` equal to the pool's issuer; `exp`; `token_use`;
`aud` for ID tokens and `client_id` for access tokens. The portal's `accounts/tokens.py` is a thin
adapter over this module, so the portal and the applications follow the same rules.

A verification costs one PyJWT decode: the header is read once (for `alg` and `kid`), the prepared key
comes from the cache by `kid`, one `jwt.decode` checks the signature, `iss`, `exp` and the required
claims, and `aud`, `token_use` and `client_id` are checked on the claims it returns.
"""

import base64
import binascii
import json
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
MALFORMED = "The token is malformed."
# One PyJWT decode checks the signature, `iss`, `exp` and the required claims; `aud` waits for `token_use`.
_OPTIONS = {"require": ["exp", "iat", "iss", "sub", "token_use"], "verify_aud": False}
# A pool signs with a key or two, so its tokens carry a handful of distinct headers: each is parsed once.
_headers: dict[str, dict] = {}
_HEADERS_MAX = 64


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

    @property
    def generation(self) -> object:
        """Return what stands for the keys held now: another object once they are downloaded again or cleared."""
        return self._cache

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
        raise TokenError(MALFORMED)
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError(TOO_LONG)
    return token


def _header(token: str) -> dict:
    """Return the token's JOSE header (PyJWT parses it again, strictly, with the signature)."""
    segment = token.partition(".")[0]
    header = _headers.get(segment)
    if header is None:
        header = _parsed_header(segment)
        if len(_headers) >= _HEADERS_MAX:
            _headers.clear()
        _headers[segment] = header
    return header


def _parsed_header(segment: str) -> dict:
    """Return a header segment's JSON object."""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenError(MALFORMED) from None
    if not isinstance(header, dict):
        raise TokenError(MALFORMED)
    return {"alg": header.get("alg"), "kid": str(header.get("kid", ""))}


def _audience_error(claims: dict, allowed: list[str]) -> str:
    """Return why an ID token's `aud` is not one of `allowed` (PyJWT's rule and error names), or ''."""
    audience = claims.get("aud")
    if not audience:
        return jwt.MissingRequiredClaimError.__name__
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not all(isinstance(item, str) for item in audiences):
        return jwt.InvalidAudienceError.__name__
    return "" if set(audiences) & set(allowed) else jwt.InvalidAudienceError.__name__


def _decoded(token: str, *, issuer: str, keys: KeySet) -> dict:
    """Return the claims once the header, signature, `iss`, `exp` and the required claims are checked."""
    header = _header(_readable(token))
    if header.get("alg") != ALGORITHM:
        raise TokenError("The token is not signed with RS256.")
    key = keys.key(header["kid"])
    try:
        return jwt.decode(token, key.key, algorithms=[ALGORITHM], issuer=issuer, options=_OPTIONS)
    except jwt.ExpiredSignatureError:
        raise TokenError("The token has expired.") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"The token is not valid ({exc.__class__.__name__}).") from None


def _checked(claims: dict, token_use: str, allowed: list[str]) -> Claims:
    """Return the claims once `aud` (ID tokens), `token_use` and `client_id` (access tokens) are checked."""
    if token_use == "id" and (error := _audience_error(claims, allowed)):
        raise TokenError(f"The token is not valid ({error}).")
    if claims.get("token_use") != token_use:
        raise TokenError(f"This is not an {token_use} token.")
    if token_use == "access" and claims.get("client_id") not in allowed:
        raise TokenError("The token was issued to another client.")
    return Claims(claims)


def _allowed(client_ids: Iterable[str]) -> list[str]:
    """Return the app clients to accept, refusing everything when there is none."""
    allowed = [client for client in client_ids if client]
    if not allowed:
        raise TokenError("No app client is configured to accept this token.")
    return allowed


def verify(token: str, *, token_use: str, issuer: str, client_ids: Iterable[str], keys: KeySet) -> Claims:
    """Verify a token of the given use ('id' or 'access') issued by `issuer` to one of `client_ids`."""
    allowed = _allowed(client_ids)
    if token_use not in TOKEN_USES:
        raise ValueError(f"token_use must be one of {TOKEN_USES}, not {token_use!r}.")
    return _checked(_decoded(token, issuer=issuer, keys=keys), token_use, allowed)


def verify_any(token: str, *, issuer: str, client_ids: Iterable[str], keys: KeySet) -> Claims:
    """Verify an ID or an access token, each with all the checks of its own use."""
    allowed = _allowed(client_ids)
    claims = _decoded(token, issuer=issuer, keys=keys)
    use = claims.get("token_use")
    if use not in TOKEN_USES:
        raise TokenError(MALFORMED)
    return _checked(claims, use, allowed)
