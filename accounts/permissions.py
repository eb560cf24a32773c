"""Who may do what: staff standings, their Django groups and permissions, and one predicate per rule.

The same predicate guards the view and decides whether the template shows the control.
"""

from django.contrib.auth.models import Group, Permission

ADMIN, HELPDESK = "admin", "helpdesk"
DJANGO_GROUPS = {ADMIN: "Portal administrators", HELPDESK: "Portal help desk"}
HELPDESK_PERMISSIONS = ["view_directory", "change_role", "reset_password", "sign_out_user"]
ADMIN_PERMISSIONS = HELPDESK_PERMISSIONS + [
    "invite_user", "grant_access", "disable_user", "delete_user", "manage_applications", "view_audit",
]
STANDING_PERMISSIONS = {ADMIN: ADMIN_PERMISSIONS, HELPDESK: HELPDESK_PERMISSIONS}


def ensure_staff_groups() -> dict[str, Group]:
    """Create the Django groups for each standing with exactly their permissions; return them."""
    groups = {}
    for standing, group_name in DJANGO_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = Permission.objects.filter(content_type__app_label="accounts",
                                           codename__in=STANDING_PERMISSIONS[standing])
        group.permissions.set(wanted)
        groups[standing] = group
    return groups


def standing_of(user) -> str:
    """Return the user's staff standing ('admin', 'helpdesk') or '' for none."""
    if not getattr(user, "is_authenticated", False):
        return ""
    names = {group.name for group in user.groups.all()}
    for standing in (ADMIN, HELPDESK):
        if DJANGO_GROUPS[standing] in names:
            return standing
    return ""


def standing_for_groups(cognito_groups) -> str:
    """Return the staff standing that these Cognito groups give ('admin' wins), or ''."""
    from django.conf import settings

    if settings.PORTAL_ADMIN_GROUP in cognito_groups:
        return ADMIN
    if settings.PORTAL_HELPDESK_GROUP in cognito_groups:
        return HELPDESK
    return ""


def apply_standing(user, standing: str) -> None:
    """Put the local user in exactly the Django group of their standing (none for '')."""
    groups = ensure_staff_groups()
    user.groups.set([groups[standing]] if standing else [])
