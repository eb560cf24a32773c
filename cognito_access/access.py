"""What a verified token grants: the applications (groups), and the one role at one level.

A user holds exactly one role, stored as the Number attributes `custom:role_<name>`
(0 = not held, 1..max = held at that level); Cognito copies them into the ID token as
strings. An application is a Cognito group named `<prefix><application>`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cognito_access.events import EventStore
from cognito_access.revocations import RevocationFeed
from cognito_access.tokens import Claims, KeySet, TokenError, issuer_for, verify, verify_any

DEFAULT_ROLES = ("a", "b", "c")
DEFAULT_PREFIX = "app-"


REVOKED = "The token was revoked: its user was signed out in the portal since it was issued."
ENDED = "This account's access to {application} has ended."


class Forbidden(Exception):
    """A valid token whose user may not use the application; the message says why."""


def role_attribute(name: str) -> str:
    """Return the Cognito attribute (and ID-token claim) that holds a role's level."""
    return f"custom:role_{name}"


def held_roles(attributes: Mapping[str, object], role_names: Iterable[str]) -> list[tuple[str, int]]:
    """Return every (role, level) the attributes grant, in role order; more than one is drift."""
    held = []
    for name in role_names:
        raw = attributes.get(role_attribute(name), "0") or "0"
        try:
            level = int(str(raw))
        except ValueError:
            continue
        if level > 0:
            held.append((name, level))
    return held


def role_of(attributes: Mapping[str, object], role_names: Iterable[str]) -> tuple[str, int] | None:
    """Return the single (role, level) held, or None when none or several are held."""
    held = held_roles(attributes, role_names)
    return held[0] if len(held) == 1 else None


def applications_of(groups: Iterable[str], prefix: str) -> tuple[str, ...]:
    """Return the applications that these groups grant, sorted (other groups are ignored)."""
    names = (group[len(prefix) :] for group in groups if group.startswith(prefix) and len(group) > len(prefix))
    return tuple(sorted(names))


@dataclass(frozen=True)
class Config:
    """Where the pool is, which app clients' tokens to accept, and how groups and roles are named."""

    region: str
    user_pool_id: str
    client_ids: tuple[str, ...]
    jwks_url: str = ""  # derived from the issuer when empty (set it for an emulator)
    group_prefix: str = DEFAULT_PREFIX
    roles: tuple[str, ...] = DEFAULT_ROLES
    refetch_seconds: float = 60
    timeout: tuple[float, float] = (3, 10)
    # The portal's revocation feed (https://<portal>/api/v1/revocations) and the application's API key:
    # tokens issued before a revocation are refused within `revocations_seconds` (0: poll only when told).
    revocations_url: str = ""
    api_key: str = field(default="", repr=False)
    revocations_seconds: float = 10

    def __post_init__(self):
        if isinstance(self.client_ids, str):
            object.__setattr__(self, "client_ids", (self.client_ids,))
        missing = [name for name in ("region", "user_pool_id", "client_ids") if not getattr(self, name)]
        if missing:
            raise ValueError(f"cognito_access.Config needs {', '.join(missing)}.")

    @property
    def issuer(self) -> str:
        """Return the pool's issuer URL."""
        return issuer_for(self.region, self.user_pool_id)

    @property
    def keys_url(self) -> str:
        """Return where the pool's signing keys are published."""
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"


@dataclass(frozen=True)
class Access:
    """What a user may do in one application, from one verified token."""

    application: str
    claims: Claims
    applications: tuple[str, ...]
    role: str | None = None  # None: the token carries no role (access tokens) or not exactly one (drift)
    level: int = 0
    roles_held: tuple[tuple[str, int], ...] = field(default=())

    @property
    def sub(self) -> str:
        """Return the user's immutable identifier."""
        return self.claims.sub

    @property
    def email(self) -> str:
        """Return the user's email (ID tokens only)."""
        return self.claims.email

    def has_role(self, name: str, min_level: int = 1) -> bool:
        """Return True when the user holds this role at `min_level` or above."""
        return self.role == name and self.level >= min_level


class Verifier:
    """Verify tokens of one pool and answer what they grant; one instance per process."""

    def __init__(
        self,
        config: Config,
        keys: KeySet | None = None,
        revocations: RevocationFeed | None = None,
        events: EventStore | None = None,
    ):
        self.config, self.events = config, events
        self.keys = keys or KeySet(config.keys_url, refetch_seconds=config.refetch_seconds, timeout=config.timeout)
        if revocations is None and config.revocations_url:
            revocations = RevocationFeed(
                config.revocations_url, config.api_key, interval=config.revocations_seconds, timeout=config.timeout
            )
        self.revocations = revocations

    def verify(self, token: str, token_use: str | None = None) -> Claims:
        """Verify an ID or access token (or only `token_use`); raise TokenError when it is not to be trusted."""
        common = {"issuer": self.config.issuer, "client_ids": self.config.client_ids, "keys": self.keys}
        claims = verify_any(token, **common) if token_use is None else verify(token, token_use=token_use, **common)
        if self.revocations is not None:
            self.revocations.start()  # at the first token, in the process that serves it
            if self.revocations.revoked(claims):
                raise TokenError(REVOKED)
        if self.events is not None and (why := self.events.refusal(claims.sub, float(claims.raw.get("iat", 0)))):
            raise TokenError(why)  # the portal pushed a change made after the token was issued
        return claims

    def access(
        self, claims: Claims, application: str, *, roles: Iterable[str] | None = None, min_level: int = 1
    ) -> Access:
        """Return what verified claims grant in `application`.

        Raise Forbidden without the application's group, and, when `roles` is given, unless the
        user holds exactly one role, one of `roles`, at `min_level` or above.
        """
        feed = self.revocations
        ended = (lambda app: feed.ended(claims.sub, app)) if feed is not None else (lambda app: False)
        if ended(application):
            raise Forbidden(ENDED.format(application=application))
        applications = tuple(app for app in applications_of(claims.groups, self.config.group_prefix) if not ended(app))
        if application not in applications:
            raise Forbidden(f"This account has no access to {application}.")
        held = tuple(held_roles(claims.raw, self.config.roles))
        fallback = feed.fallback(claims.sub) if feed is not None else None
        if fallback is not None:  # a temporary raise has ended: the role it returns to, not the token's
            held = ((fallback[0], fallback[1]),) if fallback[1] else ()
        role, level = held[0] if len(held) == 1 else (None, 0)
        if roles is not None and (role not in set(roles) or level < min_level):
            raise Forbidden(f"This account's role does not allow this part of {application}.")
        return Access(application, claims, applications, role, level, held)

    def check(
        self,
        token: str,
        application: str,
        *,
        token_use: str | None = None,
        roles: Iterable[str] | None = None,
        min_level: int = 1,
    ) -> Access:
        """Verify the token, then return what it grants in `application` (TokenError, then Forbidden)."""
        return self.access(self.verify(token, token_use), application, roles=roles, min_level=min_level)


__all__ = [
    "Access",
    "Config",
    "Forbidden",
    "TokenError",
    "Verifier",
    "applications_of",
    "held_roles",
    "role_attribute",
    "role_of",
]
