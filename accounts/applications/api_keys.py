"""API keys of the applications: made, shown once, kept only as a hash.

A key reads `cak_<id>_<secret>`: the id (12 hex characters) is stored in clear to find the key
and to show administrators which key is which; the secret (256 random bits) never is. What is
stored is the SHA-256 of the whole key: a key this random needs no slow hash (there is nothing to
guess), and comparing hashes in constant time keeps timing from telling anything.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "cak"
PATTERN = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class NewKey:
    """A key just made: `plain` is shown once, then only `key_id` and `digest` are kept."""

    key_id: str
    plain: str
    digest: str


def digest(plain: str) -> str:
    """Return the stored form of a key."""
    return hashlib.sha256(plain.encode()).hexdigest()


def make() -> NewKey:
    """Make a new random key."""
    key_id = secrets.token_hex(6)
    plain = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewKey(key_id=key_id, plain=plain, digest=digest(plain))


def key_id_of(plain: str) -> str:
    """Return the id of a well-formed key, or '' for anything else."""
    match = PATTERN.match(plain or "")
    return match.group(1) if match else ""


def matches(plain: str, stored_digest: str) -> bool:
    """Return True when the key hashes to the stored digest (compared in constant time)."""
    return hmac.compare_digest(digest(plain), stored_digest)
