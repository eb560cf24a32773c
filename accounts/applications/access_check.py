"""The access check the applications trust: who is calling (API key), and what the index says about a user.

No Cognito call: the user's token is verified against the cached JWKS, then the answer comes from the
directory index, which the portal updates in the same request as every role change, grant, revocation
and disable. So a user demoted or revoked a second ago gets the new answer at once, even while their
token is still valid.
"""

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from accounts.applications import api_keys
from accounts.models import AccessEnd, ApiKey, Application, DirectoryEntry, DirectoryGrant, Revocation

_NO_DIGEST = "0" * 64
# The keys read in this process, by id: (monotonic time it may be used until, the key with its application).
# A revoked key is refused at once anyway: every answer re-reads the key in the same query as the index.
_keys: dict[str, tuple[float, ApiKey]] = {}
_KEYS_MAX = 1024


KEY_REVOKED = "the API key was revoked"
TOKEN_REVOKED = "the token was revoked (its user was signed out since it was issued)"


class Revoked(Exception):
    """The key or the token was revoked since it was read; the message says which."""


@dataclass(frozen=True)
class Answer:
    """What the access-check API answers."""

    allowed: bool
    role: str | None = None
    level: int = 0
    applications: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the JSON body (dataclasses.asdict deep-copies: a tenth of the request's time)."""
        applications = list(self.applications)
        return {"allowed": self.allowed, "role": self.role, "level": self.level, "applications": applications}


def key_from_header(header: str, *, cached: bool = True) -> ApiKey | None:
    """Return the active API key of an 'Authorization: Api-Key <key>' header, or None."""
    scheme, _, plain = (header or "").strip().partition(" ")
    plain = plain.strip()
    key_id = api_keys.key_id_of(plain) if scheme.lower() == "api-key" else ""
    key = (_cached_key(key_id) if cached else _stored_key(key_id)) if key_id else None
    # Hash and compare even when no key was found, so timing does not tell which part was wrong.
    good = api_keys.matches(plain, key.digest if key else _NO_DIGEST)
    return key if key and good else None


def _stored_key(key_id: str) -> ApiKey | None:
    """Return the active key with this id, with its application, from the database."""
    return ApiKey.objects.select_related("application").filter(key_id=key_id, revoked_at=None).first()


def _cached_key(key_id: str) -> ApiKey | None:
    """Return the active key with this id, read at most PORTAL_API_KEY_CACHE_SECONDS ago (unknown ids: never kept)."""
    now = time.monotonic()
    found = _keys.get(key_id)
    if found and now < found[0]:
        return found[1]
    key = _stored_key(key_id)
    if key is not None and settings.PORTAL_API_KEY_CACHE_SECONDS:
        if len(_keys) >= _KEYS_MAX:
            _keys.clear()
        _keys[key_id] = (now + settings.PORTAL_API_KEY_CACHE_SECONDS, key)
    return key


def forget_keys() -> None:
    """Forget the cached API keys (a key was revoked or an application's client changed here)."""
    _keys.clear()


def client_ids_for(application: Application) -> list[str]:
    """Return the app clients whose tokens count for this application: its own (and the shared one, if allowed)."""
    shared = [settings.COGNITO_APPLICATIONS_CLIENT_ID] if settings.PORTAL_APPLICATIONS_SHARE_CLIENT else []
    return [client for client in [application.client_id, *shared] if client]


def answer_for(*, key: ApiKey, sub: str, issued_at: float, application: str) -> Answer:
    """Return what the index says about this user and application; raise Revoked for a revoked key or token.

    One indexed query reads the key (still active?), the user's revocations (any newer than the token's `iat`
    voids it), the index entry with its grants, and the ends that have come. A disabled or unknown user is
    refused. An end that has come counts at once, before the sweep makes Cognito match: an ended grant is not
    held, and a raise that ended answers the role it returns to.
    """
    rows = _facts(key_id=key.key_id, sub=sub, issued_at=issued_at)
    key_active, revoked, enabled = rows[0][:3]
    if not key_active:
        raise Revoked(KEY_REVOKED)
    if revoked:
        raise Revoked(TOKEN_REVOKED)
    if enabled is None or not enabled:
        return Answer(allowed=False)
    ended = {row[7] for row in rows if row[6] == AccessEnd.GRANT}
    raised = next((row[8:10] for row in rows if row[6] == AccessEnd.RAISE), None)
    role, level = raised or rows[0][3:5]
    applications = sorted({row[5] for row in rows if row[5] is not None and row[5] not in ended})
    role = role if role not in (DirectoryEntry.NONE, DirectoryEntry.SEVERAL) else None
    return Answer(allowed=application in applications, role=role, level=level if role else 0, applications=applications)


def _facts(*, key_id: str, sub: str, issued_at: float) -> list[tuple]:
    """Return (key active, token revoked, enabled, role, level, granted application, ended kind, ended application,
    previous role, previous level) rows: one per grant and end that has come, or one."""
    db = connections[DEFAULT_DB_ALIAS]  # once: every `connection.` attribute is a lookup in a context-local
    # An `iat` before 1970 is voided by any revocation, as the comparison of timestamps would.
    issued = db.ops.adapt_datetimefield_value(datetime.fromtimestamp(max(float(issued_at), 0.0), UTC))
    now = db.ops.adapt_datetimefield_value(timezone.now())
    # Straight to the DB-API cursor, within Django's error translation and health check: Django's own cursor
    # rewrites the placeholders of every statement it runs with a regular expression, half this query's time.
    with db.wrap_database_errors:
        db.close_if_health_check_failed()
        db.ensure_connection()
        cursor = db.connection.cursor()
        try:
            cursor.execute(_facts_sql(db.vendor), [key_id, sub, issued, sub, now])
            return cursor.fetchall()
        finally:
            cursor.close()


@functools.cache
def _facts_sql(vendor: str) -> str:
    """Return the facts query for the database's driver: the tables' quoted names, the open state written in,
    the driver's own placeholders."""
    models = (ApiKey, Revocation, DirectoryEntry, DirectoryGrant, AccessEnd)
    names = {model.__name__: connection.ops.quote_name(model._meta.db_table) for model in models}
    sql = _FACTS.format(**names, open=AccessEnd.OPEN)
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


# Driven by a one-row select, so the key and the revocations are read even for a user missing from the index.
# The open state is written in, not bound: SQLite plans a statement again on every run when a bound value meets
# a partial index's condition (access_end_open's), which made the whole query six times slower.
_FACTS = """
SELECT
  EXISTS (SELECT 1 FROM {ApiKey} WHERE key_id = %s AND revoked_at IS NULL),
  EXISTS (SELECT 1 FROM {Revocation} WHERE sub = %s AND not_before > %s AND scope = ''),
  entry.enabled, entry.role, entry.level, grants.application,
  ended.kind, ended.application, ended.previous_role, ended.previous_level
FROM (SELECT 1 AS one) AS driver
LEFT JOIN {DirectoryEntry} AS entry ON entry.sub = %s
LEFT JOIN {DirectoryGrant} AS grants ON grants.entry_id = entry.sub
LEFT JOIN {AccessEnd} AS ended ON ended.sub = entry.sub AND ended.state = '{open}' AND ended.ends_at <= %s
"""
