"""Roles, levels and applications: the pure rules, with no I/O.

A user holds exactly one role, stored as the custom attributes `custom:role_<name>`
(a Number: 0 = not held, 1..max = held at that privilege level). An application is
a Cognito group whose name is the configured prefix followed by the application name.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from cognito_access import access as core


@dataclass(frozen=True)
class Role:
    """One role held at one level."""

    name: str
    level: int

    def __str__(self) -> str:
        return f"{self.name.upper()}{self.level}"

    @property
    def label(self) -> str:
        """Return the role for people, with its configured names: 'Editor · Full (B3)'."""
        return role_label(self.name, self.level)


class RoleError(ValueError):
    """A role or level that the configuration does not allow."""


UNKNOWN_ROLE = "Unknown role {name!r}; the roles are {names}."
BAD_LEVEL = "Level must be a whole number from 1 to {max}."
# The index's two role values that are not a role, and the word each has in filters, columns and exports.
NO_ROLE, SEVERAL = "", "*"
ROLE_WORDS = {NO_ROLE: "none", SEVERAL: "several"}
ROLE_WORD_LABELS = {"none": "None", "several": "Several (drift)"}


def role_names() -> list[str]:
    """Return the configured role names, in order."""
    return list(settings.PORTAL_ROLES)


def role_attribute(name: str) -> str:
    """Return the Cognito attribute that holds a role's level."""
    return core.role_attribute(name)


def role_attributes() -> list[str]:
    """Return every role attribute name, in role order."""
    return [role_attribute(name) for name in role_names()]


def max_level() -> int:
    """Return the highest privilege level a role may be held at."""
    return settings.PORTAL_ROLE_MAX_LEVEL


def validate_role(name: str, level: int) -> Role:
    """Return the Role, or raise RoleError for an unknown role or a level out of range."""
    if name not in role_names():
        raise RoleError(unknown_role_message(name))
    if not isinstance(level, int) or not 1 <= level <= max_level():
        raise RoleError(bad_level_message())
    return Role(name, level)


def unknown_role_message(name: str) -> str:
    """Return the refusal of a role the configuration does not have."""
    return UNKNOWN_ROLE.format(name=name, names=", ".join(role_names()))


def bad_level_message() -> str:
    """Return the refusal of a level out of range."""
    return BAD_LEVEL.format(max=max_level())


def role_title(name: str) -> str:
    """Return a role's display name: the configured one ('Editor'), else its letter ('B')."""
    return settings.PORTAL_ROLE_NAMES.get(name) or name.upper()


def level_title(level: int) -> str:
    """Return a level's display name: the configured one ('Full'), else 'level 3'."""
    return settings.PORTAL_ROLE_LEVEL_NAMES.get(level) or f"level {level}"


def role_label(name: str, level: int) -> str:
    """Return a role held at a level for people: 'Editor · Full (B3)', or 'B3' when neither is named."""
    key = f"{name.upper()}{level}"
    if name not in settings.PORTAL_ROLE_NAMES and level not in settings.PORTAL_ROLE_LEVEL_NAMES:
        return key
    return f"{role_title(name)} · {level_title(level)} ({key})"


def role_choice_label(name: str) -> str:
    """Return a role (without level) for a choice or a column: 'Editor (B)', or 'B' when it has no name."""
    return (
        f"{settings.PORTAL_ROLE_NAMES[name]} ({name.upper()})" if name in settings.PORTAL_ROLE_NAMES else name.upper()
    )


def role_choices() -> list[tuple[str, str]]:
    """Return the configured roles as (stored value, label) choices."""
    return [(name, role_choice_label(name)) for name in role_names()]


def level_choices() -> list[tuple[str, str]]:
    """Return the levels as (stored value, label) choices: '3 · Full', or '3' when it has no name."""
    named = settings.PORTAL_ROLE_LEVEL_NAMES
    return [(str(n), f"{n} · {named[n]}" if n in named else str(n)) for n in range(1, max_level() + 1)]


def index_label(role: str, level: int) -> str:
    """Return the index's role and level columns for people: a role's label, 'None' or 'Several (drift)'."""
    if role in ROLE_WORDS:
        return ROLE_WORD_LABELS[role_word(role)]
    return role_label(role, level)


def key_label(key: str) -> str:
    """Return a stored role key ('b3', 'none', 'several') for people, as the index's role_label does."""
    if key in ROLE_WORD_LABELS:
        return ROLE_WORD_LABELS[key]
    for name in sorted(role_names(), key=len, reverse=True):
        rest = key[len(name) :] if key.startswith(name) else ""
        if rest.isdigit():
            return role_label(name, int(rest))
    return key


def role_word(role: str) -> str:
    """Return the index's role value as a word: the role's name, or 'none' / 'several'."""
    return ROLE_WORDS.get(role, role)


def role_from_word(word: str) -> str:
    """Return the index's role value for a filter's word ('none', 'several' or a role's name)."""
    return {text: value for value, text in ROLE_WORDS.items()}.get(word, word)


def role_filter_choices() -> list[tuple[str, str]]:
    """Return the choices of a role filter: each role, then none and several."""
    return role_choices() + list(ROLE_WORD_LABELS.items())


def attributes_for(role: Role) -> dict[str, str]:
    """Return all role attributes for holding exactly this role: the others are set to 0."""
    return {role_attribute(name): str(role.level if name == role.name else 0) for name in role_names()}


def held_roles(attributes: dict[str, str]) -> list[Role]:
    """Return every role the attributes grant (more than one is drift); the applications use the same rule."""
    return [Role(name, level) for name, level in core.held_roles(attributes, role_names())]


def role_of(attributes: dict[str, str]) -> Role | None:
    """Return the single role the attributes grant, or None when none or several are held."""
    held = held_roles(attributes)
    return held[0] if len(held) == 1 else None


def application_names() -> list[str]:
    """Return the configured application names, in order."""
    return list(settings.PORTAL_APPLICATIONS)


def client_for_application(name: str) -> str:
    """Return the name of the application's own app client (its tokens count for it alone)."""
    return f"{settings.COGNITO_APPLICATIONS_CLIENT_NAME}-{name}"


def group_for_application(name: str) -> str:
    """Return the Cognito group that grants an application."""
    return f"{settings.PORTAL_APPLICATION_GROUP_PREFIX}{name}"


def application_for_group(group: str) -> str | None:
    """Return the application a group grants, or None for a group that is not an application (an owner group)."""
    prefix = settings.PORTAL_APPLICATION_GROUP_PREFIX
    if is_owner_group(group):
        return None
    return group[len(prefix) :] if group.startswith(prefix) and len(group) > len(prefix) else None


def owner_group(application: str) -> str:
    """Return the Cognito group whose members own an application."""
    return f"{settings.PORTAL_OWNER_GROUP_PREFIX}{application}"


def is_owner_group(group: str) -> bool:
    """Return True for a group that makes its members owners of an application (never an application)."""
    prefix = settings.PORTAL_OWNER_GROUP_PREFIX
    return group.startswith(prefix) and len(group) > len(prefix)


def names_an_owner_group(application: str) -> bool:
    """Return True when an application of this name would have an owner group for its group (always refused)."""
    return is_owner_group(group_for_application(application))


def owned_in(groups: Iterable[str]) -> frozenset[str]:
    """Return the applications these groups make their member an owner of."""
    cut = len(settings.PORTAL_OWNER_GROUP_PREFIX)
    return frozenset(group[cut:] for group in groups if is_owner_group(group))


def staff_groups() -> dict[str, str]:
    """Return the Cognito staff groups, keyed by standing ('admin', 'helpdesk')."""
    return {"admin": settings.PORTAL_ADMIN_GROUP, "helpdesk": settings.PORTAL_HELPDESK_GROUP}
