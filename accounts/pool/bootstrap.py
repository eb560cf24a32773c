"""Bring a user pool to the portal's shape: add what is missing, never delete.

Every function reports what it did (or, in a dry run, what it would do) as lines of
a Report. Conflicts are all found before anything is written.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from accounts import cognito
from accounts.rules import passwords, roles

PORTAL_FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
APPLICATION_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
STANDARD_READ = ["email", "email_verified", "name"]
STANDARD_WRITE = ["email", "name"]  # never a role attribute: users would promote themselves


class BootstrapConflict(Exception):
    """The pool disagrees with the portal in a way that adding cannot fix."""


@dataclass
class Report:
    """What a bootstrap run did or plans, and the IDs it ended with."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    pool_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    applications_client_id: str = ""
    application_clients: dict[str, str] = field(default_factory=dict)
    credentials: list[tuple[str, str, str]] = field(default_factory=list)

    def do(self, description: str, action: Callable[[], object] | None = None) -> object:
        """Record a change and make it, unless this is a dry run."""
        self.lines.append(("would " if self.dry_run else "") + description)
        return None if self.dry_run or action is None else action()

    def env(self) -> str:
        """Return the IDs as environment lines for the portal."""
        return (
            f"COGNITO_USER_POOL_ID={self.pool_id}\n"
            f"COGNITO_APP_CLIENT_ID={self.client_id}\n"
            f"COGNITO_APP_CLIENT_SECRET={self.client_secret}\n"
            f"COGNITO_APPLICATIONS_CLIENT_ID={self.applications_client_id}\n"
        ) + "".join(f"{client_env_name(app)}={client_id}\n" for app, client_id in self.application_clients.items())


def client_env_name(application: str) -> str:
    """Return the variable an application reads its own app client ID from: COGNITO_CLIENT_ID_<NAME>."""
    return "COGNITO_CLIENT_ID_" + application.upper().replace("-", "_")


def role_schema() -> list[dict]:
    """Return the custom role attributes as CreateUserPool schema entries."""
    return [
        {
            "Name": f"role_{name}",
            "AttributeDataType": "Number",
            "Mutable": True,
            "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": str(roles.max_level())},
        }
        for name in roles.role_names()
    ]


def pool_settings() -> dict:
    """Return CreateUserPool's parameters for a new portal pool."""
    return {
        "PoolName": settings.COGNITO_USER_POOL_NAME,
        "Policies": {"PasswordPolicy": passwords.policy().as_cognito()},
        "UsernameAttributes": ["email"],
        "UsernameConfiguration": {"CaseSensitive": False},
        "AutoVerifiedAttributes": ["email"],
        "MfaConfiguration": "OPTIONAL",
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        "Schema": [
            {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
            {"Name": "name", "AttributeDataType": "String", "Required": False, "Mutable": True},
            *role_schema(),
        ],
    }


def client_settings(name: str, *, portal: bool) -> dict:
    """Return CreateUserPoolClient's parameters for the portal's or the applications' client."""
    minutes = settings.COGNITO_TOKEN_VALIDITY_MINUTES
    return {
        "ClientName": name,
        "GenerateSecret": portal,
        "ExplicitAuthFlows": PORTAL_FLOWS if portal else APPLICATION_FLOWS,
        "IdTokenValidity": minutes,
        "AccessTokenValidity": minutes,
        "RefreshTokenValidity": settings.COGNITO_REFRESH_TOKEN_VALIDITY_HOURS,
        "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "hours"},
        "ReadAttributes": STANDARD_READ + roles.role_attributes(),
        "WriteAttributes": STANDARD_WRITE,
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
    }


def check_conflicts(pool: cognito.PoolInfo) -> None:
    """Raise BootstrapConflict when the existing pool cannot serve the portal as it is."""
    problems = []
    for name in roles.role_attributes():
        found = pool.attributes.get(name)
        if found and (found.get("AttributeDataType") != "Number" or not found.get("Mutable", True)):
            problems.append(
                f"{name} exists as a {'mutable' if found.get('Mutable', True) else 'immutable'} "
                f"{found.get('AttributeDataType')}; the portal needs a mutable Number"
            )
    if "email" not in pool.username_attributes:
        problems.append("users do not sign in by email (UsernameAttributes lacks 'email')")
    if problems:
        raise BootstrapConflict(
            f"Pool {pool.id} cannot be used as it is: " + "; ".join(problems) + ". Nothing was changed."
        )


def find_pool(report: Report) -> cognito.PoolInfo | None:
    """Find the configured pool (by ID, else by name) and check it, or plan to create it."""
    pool_id = settings.COGNITO_USER_POOL_ID
    if not pool_id:
        named = [pid for pid, name in cognito.pools_list() if name == settings.COGNITO_USER_POOL_NAME]
        if len(named) > 1:
            raise BootstrapConflict(
                f"{len(named)} pools are named {settings.COGNITO_USER_POOL_NAME!r}; set COGNITO_USER_POOL_ID."
            )
        pool_id = named[0] if named else ""
    if not pool_id:
        return None
    pool = cognito.pool_describe(pool_id)
    check_conflicts(pool)
    return pool


def ensure_pool(report: Report) -> None:
    """Create the pool when missing, else add the role attributes it lacks."""
    pool = find_pool(report)
    if pool is None:
        report.pool_id = (
            report.do(
                f"create user pool {settings.COGNITO_USER_POOL_NAME!r} (sign-in by email, roles "
                f"{', '.join(roles.role_attributes())})",
                lambda: cognito.pool_create(**pool_settings()),
            )
            or ""
        )
        return
    report.pool_id = pool.id
    missing = [item for item in role_schema() if f"custom:{item['Name']}" not in pool.attributes]
    if missing:
        names = ", ".join(f"custom:{item['Name']}" for item in missing)
        report.do(f"add attributes {names}", lambda: cognito.pool_add_attributes(pool.id, missing))
    if pool.mfa == "OFF":
        report.do("allow TOTP MFA (OPTIONAL)", lambda: cognito.pool_set_mfa(pool.id, "OPTIONAL"))


def ensure_client(report: Report, name: str, *, portal: bool) -> cognito.ClientInfo | None:
    """Create an app client when missing, else add the auth flows it lacks."""
    wanted = client_settings(name, portal=portal)
    existing = {n: cid for cid, n in cognito.clients_list(report.pool_id)} if report.pool_id else {}
    if name not in existing:
        return report.do(f"create app client {name!r}", lambda: cognito.client_create(report.pool_id, **wanted))
    found = cognito.client_describe(report.pool_id, existing[name])
    lacking = [flow for flow in wanted["ExplicitAuthFlows"] if flow not in found.auth_flows]
    if lacking:
        merged = {**_client_update_params(found), "ExplicitAuthFlows": list(found.auth_flows) + lacking}
        report.do(
            f"allow {', '.join(lacking)} on app client {name!r}",
            lambda: cognito.client_update(report.pool_id, found.id, **merged),
        )
    writable = [attr for attr in roles.role_attributes() if attr in found.write_attributes]
    if writable:
        report.lines.append(
            f"WARNING: app client {name!r} can write {', '.join(writable)}: users could change their own "
            "role. Remove them from its WriteAttributes (manage.py cognito_check explains)."
        )
    return found


def ensure_application_clients(report: Report) -> None:
    """Give every configured application its own app client (no secret, no write to the role attributes)."""
    for app in roles.application_names():
        found = ensure_client(report, roles.client_for_application(app), portal=False)
        if found is not None:
            report.application_clients[app] = found.id


def _client_update_params(found: cognito.ClientInfo) -> dict:
    """Return an existing client's settings as UpdateUserPoolClient parameters, unchanged."""
    keep = [
        "ClientName",
        "RefreshTokenValidity",
        "AccessTokenValidity",
        "IdTokenValidity",
        "TokenValidityUnits",
        "ReadAttributes",
        "WriteAttributes",
        "ExplicitAuthFlows",
        "SupportedIdentityProviders",
        "CallbackURLs",
        "LogoutURLs",
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "AllowedOAuthFlowsUserPoolClient",
        "PreventUserExistenceErrors",
        "EnableTokenRevocation",
    ]
    return {key: found.raw[key] for key in keep if key in found.raw}


def ensure_groups(report: Report) -> None:
    """Create every configured application group and both staff groups that are missing."""
    existing = {group.name for group in cognito.groups_list()} if report.pool_id else set()
    apps = {app: text for app, text in settings.PORTAL_APPLICATIONS.items() if not roles.names_an_owner_group(app)}
    for app in sorted(set(settings.PORTAL_APPLICATIONS) - set(apps)):
        report.lines.append(f"refused application {app!r}: its group would be an owner group")
    wanted = {roles.group_for_application(app): text for app, text in apps.items()}
    wanted[settings.PORTAL_ADMIN_GROUP] = "Portal administrators"
    wanted[settings.PORTAL_HELPDESK_GROUP] = "Portal help desk"
    for group, description in wanted.items():
        if group not in existing:
            report.do(f"create group {group!r}", lambda g=group, d=description: cognito.group_create(g, d))


def ensure_staff_user(report: Report, email: str, password: str, group: str, label: str) -> None:
    """Create a staff user in `group` when missing; a generated password is temporary and shown once."""
    user = cognito.user_by_email(email) if report.pool_id else None
    if user is None:
        chosen = password or passwords.generate()
        report.do(f"create {label} {email}", lambda: _create_staff(email, chosen, permanent=bool(password)))
        if not report.dry_run:
            kind = "password" if password else "temporary password (change it at first sign-in)"
            report.credentials.append((label, email, f"{chosen}  [{kind}]"))
        user_groups: list[str] = []
    else:
        user_groups = cognito.user_groups(user.username)
    if group not in user_groups:
        report.do(f"add {email} to {group!r}", lambda: cognito.user_add_to_group(email, group))


def _create_staff(email: str, password: str, *, permanent: bool) -> None:
    """Create a staff user with a role-less profile and the given password."""
    attributes = {"name": email.split("@")[0].title(), **dict.fromkeys(roles.role_attributes(), "0")}
    cognito.user_create(email, attributes, temporary_password=password, send_invitation=False)
    if permanent:
        cognito.user_set_password(email, password, permanent=True)


DEMO_NAMES = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "Ken Thompson",
    "Frances Allen",
    "John McCarthy",
    "Radia Perlman",
    "Tim Berners-Lee",
    "Katherine Johnson",
    "Dennis Ritchie",
    "Hedy Lamarr",
    "Niklaus Wirth",
    "Shafi Goldwasser",
    "Leslie Lamport",
    "Sophie Wilson",
    "Bjarne Stroustrup",
    "Adele Goldberg",
    "Guido van Rossum",
    "Karen Spärck Jones",
    "Tony Hoare",
    "Jean Sammet",
    "Alan Kay",
    "Lynn Conway",
    "Vint Cerf",
    "Mary Shaw",
    "Robin Milner",
    "Anita Borg",
    "Ward Cunningham",
    "Joan Clarke",
    "Whitfield Diffie",
    "Evelyn Berezin",
    "Ivan Sutherland",
]


def seed_demo(report: Report, password: str) -> None:
    """Create demo users spread over roles and applications (embedded emulator only)."""
    known = {user.email for user in cognito.users_list()} if report.pool_id else set()
    apps, role_list = roles.application_names(), roles.role_names()
    for index, name in enumerate(DEMO_NAMES):
        email = name.lower().replace(" ", ".").replace("ä", "a") + "@example.com"
        if email in known:
            continue
        role = roles.Role(role_list[index % len(role_list)], 1 + index % roles.max_level())
        granted = [roles.group_for_application(apps[(index + k) % len(apps)]) for k in range(1 + index % 4)]
        report.do(
            f"create demo user {email} ({role}, {len(granted)} applications)",
            lambda e=email, n=name, r=role, g=granted: _create_demo(e, n, r, g, password),
        )


def _create_demo(email: str, name: str, role: roles.Role, groups: list[str], password: str) -> None:
    """Create one demo user with a permanent password, a role and applications."""
    cognito.user_create(
        email, {"name": name, **roles.attributes_for(role)}, send_invitation=False, temporary_password=password
    )
    cognito.user_set_password(email, password, permanent=True)
    for group in groups:
        cognito.user_add_to_group(email, group)


def bootstrap(*, dry_run: bool = False, demo_password: str = "") -> Report:
    """Bring the pool to the portal's shape; with demo_password, also seed demo users."""
    report = Report(dry_run=dry_run)
    ensure_pool(report)
    portal = ensure_client(report, settings.COGNITO_APP_CLIENT_NAME, portal=True)
    apps = ensure_client(report, settings.COGNITO_APPLICATIONS_CLIENT_NAME, portal=False)
    report.client_id, report.client_secret = (portal.id, portal.secret) if portal else ("", "")
    report.applications_client_id = apps.id if apps else ""
    ensure_application_clients(report)
    with cognito.target(report.pool_id, report.client_id, report.client_secret):
        ensure_groups(report)
        if settings.PORTAL_ADMIN_EMAIL:
            ensure_staff_user(
                report,
                settings.PORTAL_ADMIN_EMAIL,
                settings.PORTAL_ADMIN_PASSWORD,
                settings.PORTAL_ADMIN_GROUP,
                "administrator",
            )
        elif report.pool_id and not any(cognito.users_in_group(settings.PORTAL_ADMIN_GROUP)):
            report.lines.append("WARNING: no administrator yet; set PORTAL_ADMIN_EMAIL and run again.")
        if demo_password:
            ensure_staff_user(
                report, "helpdesk@example.com", demo_password, settings.PORTAL_HELPDESK_GROUP, "help-desk member"
            )
            seed_demo(report, demo_password)
    return report
