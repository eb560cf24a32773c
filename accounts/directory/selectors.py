"""Reads: the directory index, a user read live from Cognito, the audit log."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.directory import ends
from accounts.directory import index as directory
from accounts.models import AccessEnd, AuditEvent, DirectoryEntry, DirectorySync
from accounts.rules import roles
from accounts.signin import selectors as signin_selectors

MFA_LABELS = {"SOFTWARE_TOKEN_MFA": "Authenticator app (TOTP)", "SMS_MFA": "SMS"}


@dataclass(frozen=True)
class UserView:
    """One user as Cognito has them right now, with the index row that reading refreshed."""

    user: cognito.User
    groups: tuple[str, ...]
    entry: DirectoryEntry

    @property
    def applications(self) -> list[str]:
        """Return the applications the user holds."""
        return directory.applications_in(self.groups)

    @property
    def roles_held(self) -> list[roles.Role]:
        """Return every role held (more than one is drift)."""
        return roles.held_roles(self.user.attributes)

    @property
    def mfa(self) -> list[str]:
        """Return the MFA methods the user has set up, for people."""
        return [MFA_LABELS.get(item, item) for item in self.user.mfa]

    @property
    def email_verified(self) -> bool:
        """Return True when the user's email is verified (Cognito needs it to reset a password)."""
        return self.entry.email_verified

    @property
    def other_groups(self) -> list[str]:
        """Return the groups that are neither applications nor staff groups."""
        known = {roles.group_for_application(app) for app in self.applications} | set(roles.staff_groups().values())
        return sorted(set(self.groups) - known)


def user_live(sub: str) -> UserView:
    """Read one user live (AdminGetUser + AdminListGroupsForUser) and refresh their index row.

    A user Cognito no longer has (or a sub it calls malformed) is dropped from the index, then
    UserNotFound is raised.
    """
    try:
        user = cognito.user_get(sub)
        groups = tuple(cognito.user_groups(sub))
    except (cognito.UserNotFound, cognito.InvalidParameter) as exc:
        DirectoryEntry.objects.filter(sub=sub).delete()
        raise cognito.UserNotFound(str(exc), "UserNotFoundException") from None
    return UserView(user=user, groups=groups, entry=directory.entry_store(user, groups))


def user_by_email_live(email: str) -> UserView | None:
    """Find a user by email in Cognito (ListUsers, then their groups) and index them; None when none has it."""
    found = cognito.user_by_email(email)
    if found is None:
        return None
    groups = tuple(cognito.user_groups(found.sub))
    return UserView(user=found, groups=groups, entry=directory.entry_store(found, groups))


def directory_entries() -> QuerySet:
    """Return the whole index with each row's applications fetched in one extra query per page."""
    return DirectoryEntry.objects.prefetch_related("grants")


def prefix_filter(field: str, term: str) -> Q:
    """Return a condition 'field starts with term' that an index on the field can serve.

    SQLite's LIKE ignores a binary index, so there a range on the (already case-folded) column does it;
    PostgreSQL serves LIKE 'term%' from the varchar_pattern_ops index.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": term, f"{field}__lt": term + "\U0010ffff"})
    return Q(**{f"{field}__startswith": term})


def directory_search(queryset: QuerySet, term: str) -> QuerySet:
    """Return the rows whose email or name starts with the term (case-insensitive)."""
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(prefix_filter("email", term.lower()) | prefix_filter("name_key", term.casefold()))


def entry_get(sub: str) -> DirectoryEntry | None:
    """Return the index row for a sub, or None."""
    return DirectoryEntry.objects.filter(sub=sub).first()


def entry_by_email(email: str) -> DirectoryEntry | None:
    """Return the index row for an email, or None."""
    return DirectoryEntry.objects.filter(email=email.strip().lower()).first()


def access_changes(entry: DirectoryEntry, wanted) -> tuple[list[str], list[str]]:
    """Return (granted, revoked): what making the entry's applications exactly `wanted` changes, by the index."""
    current, wanted = set(directory.entry_applications(entry)), set(wanted)
    return sorted(wanted - current), sorted(current - wanted)


def directory_as_of() -> DirectorySync | None:
    """Return the last complete sync: the directory is at least as fresh as its start."""
    return DirectorySync.objects.order_by("-started").first()


def applications_last_use(sub: str, applications: list[str]) -> list[tuple[str, datetime | None]]:
    """Return each application with the user's last allowed access check to it (None: never)."""
    uses = app_selectors.last_uses([sub]).get(sub, {})
    return [(application, uses.get(application)) for application in applications]


def staff_last_sign_in(sub: str) -> datetime | None:
    """Return a staff member's last portal sign-in (None: never)."""
    return signin_selectors.staff_last_sign_in([sub])[sub]


def user_history(sub: str) -> QuerySet:
    """Return the audit events about one user, newest first (the page shows HISTORY_SHOWN of them)."""
    return AuditEvent.objects.filter(target_sub=sub).order_by("-at", "-id")


def ends_passed(sub: str, *, now) -> tuple[set[str], object]:
    """Return the applications whose end has come and the raise whose end has come (None), not yet swept."""
    return ends.passed_for(sub, now=now)


def ends_of(sub: str) -> list:
    """Return the user's open ends (grants that end, a temporary raise), soonest first."""
    return ends.ends_open(sub)


def subs_with_ends(which: str):
    """Return the subs with an open end: 'soon' (within PORTAL_EXPIRY_SOON_DAYS) or 'passed' (not yet swept)."""
    now = timezone.now()
    rule = ends.passed_q(now=now) if which == "passed" else ends.soon_q(now=now, days=settings.PORTAL_EXPIRY_SOON_DAYS)
    return AccessEnd.objects.filter(rule).values("sub")


def ending_counts() -> dict[str, int]:
    """Return how many open ends come soon and how many have passed without being swept yet."""
    now = timezone.now()
    soon = ends.soon_q(now=now, days=settings.PORTAL_EXPIRY_SOON_DAYS)
    return {
        "soon": AccessEnd.objects.filter(soon).count(),
        "passed": AccessEnd.objects.filter(ends.passed_q(now=now)).count(),
        "days": settings.PORTAL_EXPIRY_SOON_DAYS,
    }


def ends_by_user(subs) -> dict[str, dict[str, AccessEnd]]:
    """Return {sub: {application or '' for a raise: open end}} for these users, in one query."""
    found: dict[str, dict[str, AccessEnd]] = {}
    for end in AccessEnd.objects.filter(sub__in=list(subs), state=AccessEnd.OPEN):
        found.setdefault(end.sub, {})[end.application] = end
    return found
