"""The access check the applications trust: who is calling (API key), and what the index says about a user.

No Cognito call: the user's token is verified against the cached JWKS, then the answer comes from the
directory index, which the portal updates in the same request as every role change, grant, revocation
and disable. So a user demoted or revoked a second ago gets the new answer at once, even while their
token is still valid.
"""

from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.utils import timezone

from accounts.applications import api_keys
from accounts.directory import selectors as dir_selectors
from accounts.models import ApiKey, Application, DirectoryEntry

_NO_DIGEST = "0" * 64


@dataclass(frozen=True)
class Answer:
    """What the access-check API answers."""

    allowed: bool
    role: str | None = None
    level: int = 0
    applications: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the JSON body."""
        return asdict(self)


def key_from_header(header: str) -> ApiKey | None:
    """Return the active API key of an 'Authorization: Api-Key <key>' header, or None."""
    scheme, _, plain = (header or "").strip().partition(" ")
    plain = plain.strip()
    key_id = api_keys.key_id_of(plain) if scheme.lower() == "api-key" else ""
    key = (
        ApiKey.objects.select_related("application").filter(key_id=key_id, revoked_at=None).first() if key_id else None
    )
    # Hash and compare even when no key was found, so timing does not tell which part was wrong.
    good = api_keys.matches(plain, key.digest if key else _NO_DIGEST)
    return key if key and good else None


def client_ids_for(application: Application) -> list[str]:
    """Return the app clients whose tokens count for this application: its own (and the shared one, if allowed)."""
    shared = [settings.COGNITO_APPLICATIONS_CLIENT_ID] if settings.PORTAL_APPLICATIONS_SHARE_CLIENT else []
    return [client for client in [application.client_id, *shared] if client]


def answer_for(sub: str, application: str) -> Answer:
    """Return what the index says about this user and application (a disabled or unknown user: refused).

    An end that has come counts at once, before the sweep makes Cognito match: an ended grant is not held,
    and a raise that ended answers the role it returns to.
    """
    entry = DirectoryEntry.objects.filter(sub=sub).prefetch_related("grants").first()
    if entry is None or not entry.enabled:
        return Answer(allowed=False)
    ended, raised = dir_selectors.ends_passed(sub, now=timezone.now())
    applications = sorted(grant.application for grant in entry.grants.all() if grant.application not in ended)
    role_name, level = (raised.previous_role, raised.previous_level) if raised else (entry.role, entry.level)
    role = role_name if role_name not in (DirectoryEntry.NONE, DirectoryEntry.SEVERAL) else None
    return Answer(allowed=application in applications, role=role, level=level if role else 0, applications=applications)
