"""Reads of staff management: the members of the staff groups, read live from Cognito."""

from dataclasses import dataclass
from datetime import datetime

from accounts import cognito
from accounts.directory.selectors import MFA_LABELS
from accounts.rules import permissions, roles
from accounts.signin import selectors as signin_selectors


@dataclass(frozen=True)
class StaffMember:
    """One member of the staff groups as Cognito has them now; `last_sign_in` is filled by last_sign_ins()."""

    sub: str
    email: str
    name: str
    standing: str
    groups: tuple[str, ...]
    enabled: bool
    status: str
    mfa: tuple[str, ...]
    last_sign_in: datetime | None = None

    @property
    def standing_label(self) -> str:
        """Return the standing for people: 'Administrator' or 'Help desk'."""
        return permissions.STANDING_LABELS[self.standing]

    @property
    def standings(self) -> list[str]:
        """Return every standing whose group the member is in ('admin', 'helpdesk')."""
        return [name for name, group in roles.staff_groups().items() if group in self.groups]

    @property
    def mfa_label(self) -> str:
        """Return the MFA methods set up, for people ('' for none)."""
        return ", ".join(MFA_LABELS.get(item, item) for item in self.mfa)


def last_sign_ins(subs: list[str]) -> dict[str, datetime | None]:
    """Return the last portal sign-in of each staff member by sub (None: never signed in to the portal)."""
    return signin_selectors.staff_last_sign_in(subs)


def _members() -> dict[str, tuple[cognito.User, list[str]]]:
    """Return {sub: (user, staff groups held)} over both staff groups (ListUsersInGroup on each)."""
    found: dict[str, tuple[cognito.User, list[str]]] = {}
    for group in roles.staff_groups().values():
        for user in cognito.users_in_group(group):
            found.setdefault(user.sub, (user, []))[1].append(group)
    return found


def staff_members() -> list[StaffMember]:
    """Return every administrator and help-desk member, read live, administrators first, then by email.

    ListUsersInGroup leaves out the MFA settings, so each member is read too (AdminGetUser): staff are few.
    """
    members = _members()
    seen = last_sign_ins(list(members))
    listed = []
    for sub, (user, groups) in members.items():
        account = cognito.user_get(sub)
        listed.append(
            StaffMember(
                sub=sub,
                email=user.email,
                name=user.name,
                standing=permissions.standing_for_groups(groups),
                groups=tuple(sorted(groups)),
                enabled=account.enabled,
                status=account.status,
                mfa=account.mfa,
                last_sign_in=seen.get(sub),
            )
        )
    return sorted(listed, key=lambda member: (member.standing != permissions.ADMIN, member.email))


# --- Application owners: the selectors other domains (access reviews) use -------------------------------


@dataclass(frozen=True)
class Owner:
    """One owner of an application as Cognito has them now (a member of the application's owner group)."""

    sub: str
    email: str
    name: str
    enabled: bool


def owned_applications(user) -> set[str]:
    """Return the applications the user owns (names), as last read live from Cognito; empty for anyone else.

    The portal reads the standing live at sign-in and again after PORTAL_STAFF_RECHECK_SECONDS, as for the
    other standings; an inactive or signed-out user owns nothing here. No Cognito call.
    """
    return set(permissions.owned_applications(user))


def application_owners(application: str) -> list[Owner]:
    """Return the owners of an application, read live (ListUsersInGroup on its owner group), by email.

    Each item is an Owner(sub, email, name, enabled); an application without an owner group yet has none.
    """
    try:
        members = list(cognito.users_in_group(roles.owner_group(application)))
    except cognito.ResourceNotFound:
        return []
    owners = [Owner(sub=user.sub, email=user.email, name=user.name, enabled=user.enabled) for user in members]
    return sorted(owners, key=lambda owner: owner.email)
