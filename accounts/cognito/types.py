"""The small dataclasses the gateway returns instead of boto dictionaries."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class User:
    """A pool user as the portal sees it."""

    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    created: datetime | None = None
    modified: datetime | None = None
    mfa: tuple[str, ...] = ()

    @property
    def sub(self) -> str:
        """Return the user's immutable identifier."""
        return self.attributes.get("sub", self.username)

    @property
    def email(self) -> str:
        """Return the user's email address."""
        return self.attributes.get("email", "")

    @property
    def name(self) -> str:
        """Return the user's display name."""
        return self.attributes.get("name", "")


@dataclass(frozen=True)
class Group:
    """A pool group."""

    name: str
    description: str = ""
    role_arn: str = ""
    precedence: int | None = None


@dataclass(frozen=True)
class AuthResult:
    """The outcome of a sign-in step: tokens, or the next challenge."""

    id_token: str = field(default="", repr=False)  # secrets stay out of repr, and so out of error reports
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_in: int = 0
    challenge: str = ""
    session: str = field(default="", repr=False)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        """Return True when the step produced tokens."""
        return bool(self.id_token)


@dataclass(frozen=True)
class PoolInfo:
    """What DescribeUserPool tells about a pool."""

    id: str
    name: str
    attributes: dict[str, dict[str, Any]]
    mfa: str
    password_policy: dict[str, Any]
    username_attributes: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class ClientInfo:
    """What DescribeUserPoolClient tells about an app client."""

    id: str
    name: str
    secret: str
    auth_flows: tuple[str, ...]
    read_attributes: tuple[str, ...]
    write_attributes: tuple[str, ...]
    id_token_minutes: int
    access_token_minutes: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    refresh_token_minutes: int = 30 * 1440


@dataclass(frozen=True)
class CallAttempt:
    """How one attempt of a call in a budget was made: its timeouts and the back-off slept before it."""

    operation: str
    connect_timeout: float
    read_timeout: float
    backoff: float = 0.0
