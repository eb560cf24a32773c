"""Staff standing read live from Cognito, and staff who lose it losing their power at once.

Every write on another user reads the target's groups (AdminListGroupsForUser) in the same request, so the
shield around staff accounts never depends on the index. The actor's own standing is read again
(AdminGetUser + AdminListGroupsForUser) when older than PORTAL_STAFF_RECHECK_SECONDS.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts import cognito
from accounts.models import User
from accounts.rules import permissions, roles
from accounts.rules.errors import ServiceError

DISABLED = "your account was disabled"
GONE = "your account no longer exists"
NOT_STAFF = "your account is no longer portal staff"
LAST_ADMINISTRATOR = (
    "{email} is the last enabled administrator: make someone else an administrator first. Nothing was changed."
)


def standing_live(sub: str) -> str:
    """Return the user's staff standing from their Cognito groups, read now ('' for none)."""
    return permissions.standing_for_groups(cognito.user_groups(sub))


def administrators_enabled() -> list[str]:
    """Return the subs of the administrators' group's enabled members, read now (ListUsersInGroup)."""
    return [user.sub for user in cognito.users_in_group(settings.PORTAL_ADMIN_GROUP) if user.enabled]


def administrator_keep(*, sub: str, email: str) -> None:
    """Raise ServiceError when this user is the last enabled administrator, read live now."""
    if not permissions.keeps_an_administrator(administrators_enabled(), sub):
        raise ServiceError(LAST_ADMINISTRATOR.format(email=email))


def staff_sessions_end(*, sub: str, standing: str | None = None, owned: frozenset[str] | None = None) -> bool:
    """End every portal session of the staff member with this sub; return True when they have a local user.

    A new unusable password gives a new session hash, which Django compares on every request, so each of
    their sessions (on every worker and machine) is flushed at its next request. With `standing`, their
    Django group becomes exactly that one ('' for none), and with `owned` the applications they own.
    """
    user = User.objects.filter(cognito_sub=sub).first()
    if user is None:
        return False
    user.set_unusable_password()
    user.save(update_fields=["password"])
    if standing is not None:
        permissions.apply_standing(user, standing, owned)
    return True


def _lost(user: User) -> tuple[str, str, frozenset[str]]:
    """Read the user's account and groups now; return (why they lost their standing or '', it, what they own)."""
    try:
        account = cognito.user_get(user.cognito_sub)
        groups = cognito.user_groups(user.cognito_sub)
    except (cognito.UserNotFound, cognito.InvalidParameter):
        return GONE, "", frozenset()
    if not account.enabled:
        return DISABLED, "", frozenset()
    standing = permissions.standing_for_groups(groups)
    return ("" if standing else NOT_STAFF), standing, roles.owned_in(groups)


def _forget_permissions(user: User) -> None:
    """Drop what this user object cached about its standing and permissions."""
    for name in ("_portal_standing", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(name, None)


def actor_recheck(actor) -> str:
    """Read a staff actor's standing live when older than PORTAL_STAFF_RECHECK_SECONDS; return why it ended, or ''.

    A lost standing ends all their sessions and empties their Django groups; a changed one is applied.
    """
    if not isinstance(actor, User) or not actor.is_staff or not actor.cognito_sub:
        return ""
    if timezone.now() - actor.staff_checked_at < timedelta(seconds=settings.PORTAL_STAFF_RECHECK_SECONDS):
        return ""
    why, standing, owned = _lost(actor)
    if why:
        staff_sessions_end(sub=actor.cognito_sub, standing="")
    else:
        permissions.standing_follow(actor, standing, owned)
    _forget_permissions(actor)
    actor.staff_checked_at = timezone.now()
    actor.save(update_fields=["staff_checked_at"])
    return why
