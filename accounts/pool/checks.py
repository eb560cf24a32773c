"""The pool's health and security audit: what `manage.py cognito_check` and the administrators' page show.

Every check reads Cognito live (it is the system of record, and drift comes from edits made
outside the portal) and returns Findings; none writes. Repairs go through accounts.services.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings

from accounts import cognito
from accounts.applications import selectors as app_selectors
from accounts.rules import roles, words

# What each check looks at, in the order they run and are shown.
CHECKS = {
    "role_attributes": "The role attributes exist as mutable Numbers allowing 0 to the highest level",
    "client_writes": "No app client can write a role attribute (users would promote themselves)",
    "token_lifetimes": "Every app client's token lifetimes are within the configured bound",
    "groups": "Every application group and both staff groups exist",
    "app_clients": "Every application has an app client of its own (a token for one does not open another)",
    "role_drift": "Every user holds exactly one role at a valid level (staff may hold none)",
}

NO_ROLE, SEVERAL_ROLES, BAD_LEVEL = "no_role", "several_roles", "bad_level"


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the pool."""

    check: str
    subject: str
    message: str
    kind: str = ""  # for role drift: NO_ROLE, SEVERAL_ROLES or BAD_LEVEL
    sub: str = ""  # for role drift: the user's sub
    held: tuple[roles.Role, ...] = ()  # for role drift: the roles the user holds now


@dataclass
class Report:
    """The findings of one run of every check."""

    findings: list[Finding] = field(default_factory=list)
    users: int = 0
    clients: int = 0

    @property
    def ok(self) -> bool:
        """Return True when nothing is wrong."""
        return not self.findings

    def by_check(self) -> dict[str, list[Finding]]:
        """Return the findings grouped by check, every check present, in CHECKS order."""
        grouped: dict[str, list[Finding]] = {name: [] for name in CHECKS}
        for finding in self.findings:
            grouped[finding.check].append(finding)
        return grouped

    def drift(self) -> list[Finding]:
        """Return the role-drift findings (the ones --fix can repair)."""
        return [finding for finding in self.findings if finding.check == "role_drift"]


def check_role_attributes(pool: cognito.PoolInfo) -> list[Finding]:
    """Find role attributes that are missing, not Numbers, immutable, or not allowing 0..max."""
    findings = []
    for name in roles.role_attributes():
        found = pool.attributes.get(name)
        if found is None:
            findings.append(Finding("role_attributes", name, f"{name} does not exist in the pool."))
            continue
        if found.get("AttributeDataType") != "Number" or not found.get("Mutable", True):
            kind = "mutable" if found.get("Mutable", True) else "immutable"
            message = f"{name} is a {kind} {found.get('AttributeDataType')}; it must be a mutable Number."
            findings.append(Finding("role_attributes", name, message))
            continue
        limits = found.get("NumberAttributeConstraints") or {}
        low, high = limits.get("MinValue"), limits.get("MaxValue")
        if (low not in (None, "") and int(low) > 0) or (high not in (None, "") and int(high) < roles.max_level()):
            findings.append(
                Finding(
                    "role_attributes",
                    name,
                    f"{name} allows {low or '-'}..{high or '-'}; the portal needs 0..{roles.max_level()}.",
                )
            )
    return findings


def check_clients(clients: Iterable[cognito.ClientInfo]) -> list[Finding]:
    """Find app clients that can write a role attribute or issue tokens living too long."""
    findings = []
    bound = settings.COGNITO_TOKEN_VALIDITY_MINUTES
    refresh_bound = settings.COGNITO_REFRESH_TOKEN_VALIDITY_HOURS * 60
    for client in clients:
        label = f"app client {client.name!r} ({client.id})"
        writable = [attr for attr in roles.role_attributes() if attr in client.write_attributes]
        if not client.write_attributes:
            findings.append(
                Finding(
                    "client_writes",
                    label,
                    f"{label} sets no WriteAttributes, so Cognito lets it "
                    "write every mutable attribute, the role attributes included.",
                )
            )
        elif writable:
            findings.append(
                Finding(
                    "client_writes",
                    label,
                    f"{label} can write {', '.join(writable)}: remove them from its WriteAttributes.",
                )
            )
        for what, minutes, limit in (
            ("ID token", client.id_token_minutes, bound),
            ("access token", client.access_token_minutes, bound),
            ("refresh token", client.refresh_token_minutes, refresh_bound),
        ):
            if minutes > limit:
                findings.append(
                    Finding(
                        "token_lifetimes",
                        label,
                        f"{label} issues {what}s living {words.counted(minutes, 'minute')}; "
                        f"the bound is {words.counted(limit, 'minute')}.",
                    )
                )
    return findings


SAID = {
    "shared": "PORTAL_APPLICATIONS_SHARE_CLIENT=true: tokens of the shared app client {client} count for every "
    "application, so a token issued for one application is accepted for all the others.",
    "no_client": "{app} has no app client of its own, so the access-check API refuses every token for it: run "
    "manage.py cognito_bootstrap, or “Refresh from Cognito” in the registry.",
    "gone_client": "{app}'s app client {client} does not exist in the pool.",
    "same_client": "{apps} share the app client {client}: a token issued for one is accepted for the others.",
}


def check_app_clients(registry: dict[str, str], pool_clients: Iterable[str]) -> list[Finding]:
    """Find applications without an app client of their own, sharing one, or pointing at one that is gone."""
    findings, present, users = [], set(pool_clients), {}
    if settings.PORTAL_APPLICATIONS_SHARE_CLIENT:
        client = settings.COGNITO_APPLICATIONS_CLIENT_ID or "(COGNITO_APPLICATIONS_CLIENT_ID unset)"
        findings.append(
            Finding("app_clients", "PORTAL_APPLICATIONS_SHARE_CLIENT", SAID["shared"].format(client=client))
        )
    for app, client in registry.items():
        if not client:
            findings.append(Finding("app_clients", app, SAID["no_client"].format(app=app)))
        elif client not in present:
            findings.append(Finding("app_clients", app, SAID["gone_client"].format(app=app, client=client)))
        else:
            users.setdefault(client, []).append(app)
    for client, apps in users.items():
        if len(apps) > 1:
            findings.append(
                Finding("app_clients", client, SAID["same_client"].format(apps=", ".join(apps), client=client))
            )
    return findings


def expected_groups(applications: Iterable[str] | None = None) -> list[str]:
    """Return every group the portal needs: one per application, then the two staff groups."""
    names = app_selectors.application_names() if applications is None else list(applications)
    return [roles.group_for_application(name) for name in names] + list(roles.staff_groups().values())


def check_groups(existing: Iterable[str], applications: Iterable[str] | None = None) -> list[Finding]:
    """Find application and staff groups that are missing."""
    present = set(existing)
    return [
        Finding("groups", group, f"Group {group!r} does not exist.")
        for group in expected_groups(applications)
        if group not in present
    ]


def bad_levels(attributes: dict[str, str]) -> list[str]:
    """Return 'attr=value' for every role attribute whose value is not a level from 0 to the highest."""
    bad = []
    for name in roles.role_attributes():
        raw = attributes.get(name, "0") or "0"
        if not raw.strip().isdigit() or int(raw) > roles.max_level():
            bad.append(f"{name}={raw!r}")
    return bad


def user_drift(user: cognito.User, *, staff: bool) -> Finding | None:
    """Return the user's role drift, or None when they hold exactly one valid role (or none, as staff)."""
    label = user.email or user.sub
    held = tuple(roles.held_roles(user.attributes))
    bad = bad_levels(user.attributes)
    if bad:
        return Finding(
            "role_drift",
            label,
            f"{label} has role values that are not levels: {', '.join(bad)}.",
            BAD_LEVEL,
            user.sub,
            held,
        )
    if len(held) > 1:
        return Finding(
            "role_drift",
            label,
            f"{label} holds several roles: {', '.join(map(str, held))}.",
            SEVERAL_ROLES,
            user.sub,
            held,
        )
    if not held and not staff:
        return Finding("role_drift", label, f"{label} holds no role.", NO_ROLE, user.sub, held)
    return None


def check_users(users: Iterable[cognito.User], staff_subs: set[str]) -> tuple[list[Finding], int]:
    """Return the drift findings of these users and how many were looked at."""
    findings, count = [], 0
    for user in users:
        count += 1
        finding = user_drift(user, staff=user.sub in staff_subs)
        if finding:
            findings.append(finding)
    return findings, count


def staff_subs() -> set[str]:
    """Return the subs of every member of either staff group."""
    subs = set()
    for group in roles.staff_groups().values():
        try:
            subs.update(user.sub for user in cognito.users_in_group(group))
        except cognito.ResourceNotFound:
            continue  # reported by check_groups
    return subs


def pool_check(*, applications: Iterable[str] | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Run every check against the configured pool and return the findings."""
    say = progress or (lambda _message: None)
    report = Report()
    pool_id = cognito.pool_id()
    say("reading the pool")
    report.findings += check_role_attributes(cognito.pool_describe(pool_id))
    say("reading the app clients")
    clients = [cognito.client_describe(pool_id, client_id) for client_id, _name in cognito.clients_list(pool_id)]
    report.clients = len(clients)
    report.findings += check_clients(clients)
    report.findings += check_app_clients(app_selectors.application_clients(), [client.id for client in clients])
    say("reading the groups")
    report.findings += check_groups([group.name for group in cognito.groups_list()], applications)
    say("reading the users")
    drift, report.users = check_users(cognito.users_list(), staff_subs())
    report.findings += drift
    return report


# --- Repairing role drift ---------------------------------------------------------------------------


def parse_role_key(key: str) -> roles.Role | None:
    """Return the Role of a key like 'b2' (as the audit records it), or None."""
    for name in sorted(roles.role_names(), key=len, reverse=True):
        rest = (key or "").removeprefix(name)
        if key and key.startswith(name) and rest.isdigit() and 1 <= int(rest) <= roles.max_level():
            return roles.Role(name, int(rest))
    return None


def last_portal_role(sub: str) -> roles.Role | None:
    """Return the role the portal last set for this user, from the audit log, or None."""
    from accounts.models import AuditEvent

    events = AuditEvent.objects.filter(
        target_sub=sub, action__in=["role_change", "user_invite"], outcome=AuditEvent.SUCCESS
    )
    for after in events.order_by("-at", "-id").values_list("after", flat=True)[:20]:
        role = parse_role_key((after or {}).get("role", ""))
        if role:
            return role
    return None


def least_privileged(held: Iterable[roles.Role]) -> roles.Role | None:
    """Return the held role with the lowest valid level (ties: the first in role order), or None."""
    order = {name: index for index, name in enumerate(roles.role_names())}
    valid = [role for role in held if 1 <= role.level <= roles.max_level()]
    return min(valid, key=lambda role: (role.level, order[role.name])) if valid else None


def planned_role(finding: Finding, default: roles.Role | None = None) -> roles.Role | None:
    """Return the role a drifted user should get: the portal's last, else the least privileged held, else `default`."""
    return last_portal_role(finding.sub) or least_privileged(finding.held) or default


@dataclass(frozen=True)
class Repair:
    """What --fix did for one drifted user."""

    finding: Finding
    role: roles.Role | None
    outcome: str


def drift_fix(finding: Finding, *, actor, default: roles.Role | None = None, reason: str = "") -> Repair:
    """Give a drifted user their planned role through the role-change service (audited), or say why not."""
    from accounts.directory import selectors, services

    role = planned_role(finding, default)
    if role is None:
        return Repair(finding, None, "left as is: no role to restore (pass --default-role ROLE:LEVEL)")
    try:
        entry = selectors.user_live(finding.sub).entry
        result = services.role_change(
            actor=actor, sub=finding.sub, role=role.name, level=role.level, shown=entry.role_key, reason=reason
        )
    except cognito.UserNotFound:
        return Repair(finding, None, "left as is: the user no longer exists")
    except services.ServiceError as exc:
        return Repair(finding, None, f"not repaired: {exc.message}")
    if not result.changed:
        return Repair(finding, role, f"not repaired: the service found {role.label} already held")
    return Repair(finding, role, f"now holds {role.label}" + ("" if result.sessions_revoked else f" ({result.error})"))
