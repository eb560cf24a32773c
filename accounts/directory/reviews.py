"""Access reviews: who holds which application with which role, read from the index and the audit log.

Every read here is a fixed number of queries whatever the number of users: the applications of a user are
aggregated in SQL and the last change comes from a correlated subquery on the audit log's
(target_sub, -at) index, and the last use from one on the uses' (sub, application) key, so the export streams a
single query.
"""

from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Aggregate, CharField, Count, OuterRef, QuerySet, Subquery

from accounts.applications import selectors as app_selectors
from accounts.directory import selectors
from accounts.models import AccessEnd, ApplicationUse, AuditEvent, DirectoryEntry, DirectoryGrant
from accounts.rules import roles

REVIEW_COLUMNS = [
    "email",
    "name",
    "status",
    "enabled",
    "role",
    "level",
    "role_label",
    "applications",
    "last_changed",
    "changed_by",
    "last_used",
    "ends",
]
CHANGES = ["user_invite", "access_set", "access_grant", "access_revoke", "role_change", "user_disable", "user_enable"]
CHUNK = 100  # rows held at a time while streaming: an export of 100,000 users needs what one of 100 does


class GroupConcat(Aggregate):
    """The values of a column joined with ';' (GROUP_CONCAT on SQLite, STRING_AGG on PostgreSQL)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, ';')"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="STRING_AGG", **extra)


def _applications() -> Subquery:
    """Return a subquery giving a user's applications joined with ';'."""
    grants = (
        DirectoryGrant.objects.filter(entry=OuterRef("pk"))
        .order_by()
        .values("entry")
        .annotate(joined=GroupConcat("application"))
        .values("joined")
    )
    return Subquery(grants[:1], output_field=CharField())


def _last_change(column: str) -> Subquery:
    """Return a subquery giving a column of the latest successful change audited about a user."""
    latest = AuditEvent.objects.filter(
        target_sub=OuterRef("sub"), outcome=AuditEvent.SUCCESS, action__in=CHANGES
    ).order_by("-at", "-id")
    return Subquery(latest.values(column)[:1])


def _last_use(application: str) -> Subquery:
    """Return a subquery giving a user's last allowed access check: to this application, or to any."""
    uses = ApplicationUse.objects.filter(sub=OuterRef("sub"))
    uses = uses.filter(application=application) if application else uses
    return Subquery(uses.order_by("-last_at").values("last_at")[:1])


def review_queryset(application: str = "") -> QuerySet:
    """Return the users (of one application, or all) with their applications, last change and last use."""
    users = DirectoryEntry.objects.order_by("email")
    if application:
        users = users.filter(grants__application=application)
    return users.annotate(
        joined=_applications(),
        last_at=_last_change("at"),
        last_by=_last_change("actor"),
        last_used=_last_use(application),
    )


def _ends_held() -> dict[str, str]:
    """Return every user's open ends as 'application=ISO end' joined with ';' ('role=' for a raise), in one query."""
    joined: dict[str, list[str]] = defaultdict(list)
    for sub, app, end in AccessEnd.objects.filter(state=AccessEnd.OPEN).values_list("sub", "application", "ends_at"):
        joined[sub].append(f"{app or 'role'}={end.isoformat()}")
    return {sub: ";".join(sorted(items)) for sub, items in joined.items()}


def _role(role: str, level: int) -> tuple[str, str]:
    """Return the role and level columns: 'b', '2' / 'none', '' / 'several', ''."""
    return (roles.role_word(role), "") if role in roles.ROLE_WORDS else (role, str(level))


def review_rows(application: str = "") -> Iterator[list]:
    """Yield one row per user for the access review, streaming CHUNK rows at a time."""
    fields = ["email", "name", "status", "enabled", "role", "level", "joined", "modified", "last_at", "last_by"]
    ends = _ends_held()  # only the open ends are held: far fewer than the users streamed
    for sub, email, name, status, enabled, role, level, joined, modified, last_at, last_by, last_used in (
        review_queryset(application).values_list("sub", *fields, "last_used").iterator(chunk_size=CHUNK)
    ):
        if last_at is None or (
            modified is not None and modified > last_at and (modified - last_at).total_seconds() > 5
        ):
            changed, by = modified, ("outside the portal" if modified else "")
        else:
            changed, by = last_at, last_by
        apps = ";".join(sorted(joined.split(";"))) if joined else ""
        yield [
            email,
            name,
            status,
            "yes" if enabled else "no",
            *_role(role, level),
            roles.index_label(role, level),
            apps,
            changed.isoformat() if changed else "",
            by,
            last_used.isoformat() if last_used else "never",
            ends.get(sub, ""),
        ]


# --- The dashboard ------------------------------------------------------------------------------------


def role_key(role: str) -> str:
    """Return the dashboard's column for an index role value."""
    return roles.role_word(role)


def counts_per_application() -> dict[str, dict[str, int]]:
    """Return {application: {role or 'none'/'several': users}} in one grouped query."""
    counts: dict[str, dict[str, int]] = {app: defaultdict(int) for app in app_selectors.application_names()}
    grouped = DirectoryGrant.objects.values_list("application", "entry__role").annotate(n=Count("id")).order_by()
    for application, role, count in grouped:
        if application in counts:
            counts[application][role_key(role)] += count
    return counts


def summary() -> dict[str, int]:
    """Return the numbers of users, of users with no application, with no role and with several."""
    grouped = dict(DirectoryEntry.objects.values_list("role").annotate(n=Count("sub")).order_by())
    return {
        "users": sum(grouped.values()),
        "no_application": DirectoryEntry.objects.filter(grants__isnull=True).count(),
        "no_role": grouped.get(DirectoryEntry.NONE, 0),
        "several_roles": grouped.get(DirectoryEntry.SEVERAL, 0),
    }


def matrix_queryset(*, search: str = "", application: str = "", role: str = "", status: str = "") -> QuerySet:
    """Return the users the matrix shows, filtered like the directory (its applications prefetched)."""
    users = selectors.directory_search(selectors.directory_entries(), search)
    if application == "none":
        users = users.filter(grants__isnull=True)
    elif application:
        users = users.filter(grants__application=application)
    if role:
        users = users.filter(role=roles.role_from_word(role))
    if status == "disabled":
        users = users.filter(enabled=False)
    elif status:
        users = users.filter(status=status, enabled=True)
    return users.order_by("email")
