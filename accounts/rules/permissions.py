"""Who may do what: staff standings, their Django groups and permissions, and one predicate per rule.

The same predicate guards the view and decides whether the template shows the control.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet

from accounts.models import DirectoryGrant
from accounts.rules import roles

ADMIN, HELPDESK, OWNER = "admin", "helpdesk", "owner"
DJANGO_GROUPS = {ADMIN: "Portal administrators", HELPDESK: "Portal help desk", OWNER: "Portal application owners"}
HELPDESK_PERMISSIONS = ["view_directory", "change_role", "reset_password", "sign_out_user"]
ADMIN_PERMISSIONS = HELPDESK_PERMISSIONS + [
    "invite_user",
    "grant_access",
    "disable_user",
    "delete_user",
    "manage_applications",
    "view_audit",
]
# An owner holds no portal-wide permission: each of their rules is scoped to the applications they own.
STANDING_PERMISSIONS = {ADMIN: ADMIN_PERMISSIONS, HELPDESK: HELPDESK_PERMISSIONS, OWNER: []}
STANDING_LABELS = {ADMIN: "Administrator", HELPDESK: "Help desk"}  # the standings staff management grants
OWNER_LABEL = "Application owner"
STAFF_LABELS = {**STANDING_LABELS, OWNER: OWNER_LABEL}  # every standing an account can hold


def ensure_staff_groups() -> dict[str, Group]:
    """Create the Django groups for each standing with exactly their permissions; return them."""
    groups = {}
    for standing, group_name in DJANGO_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = Permission.objects.filter(
            content_type__app_label="accounts", codename__in=STANDING_PERMISSIONS[standing]
        )
        group.permissions.set(wanted)
        groups[standing] = group
    return groups


def standing_of(user) -> str:
    """Return the user's staff standing ('admin', 'helpdesk', 'owner') or '' for none."""
    if not getattr(user, "is_authenticated", False):
        return ""
    names = {group.name for group in user.groups.all()}
    for standing in (ADMIN, HELPDESK, OWNER):
        if DJANGO_GROUPS[standing] in names:
            return standing
    return ""


def standing_for_groups(cognito_groups) -> str:
    """Return the staff standing that these Cognito groups give ('admin', then 'helpdesk', then 'owner'), or ''."""
    from django.conf import settings

    if settings.PORTAL_ADMIN_GROUP in cognito_groups:
        return ADMIN
    if settings.PORTAL_HELPDESK_GROUP in cognito_groups:
        return HELPDESK
    return OWNER if roles.owned_in(cognito_groups) else ""


def apply_standing(user, standing: str, owned: frozenset[str] | None = None) -> None:
    """Put the local user in exactly the Django group of their standing (none for ''); record `owned` when given."""
    groups = ensure_staff_groups()
    user.groups.set([groups[standing]] if standing else [])
    if owned is not None or not standing:
        owned_record(user, frozenset(owned or ()) if standing else frozenset())


def owned_record(user, owned: frozenset[str]) -> None:
    """Store the applications the local user owns (as last read from their Cognito groups)."""
    wanted = sorted(owned)
    if list(user.owned_applications) != wanted:
        user.owned_applications = wanted
        user.save(update_fields=["owned_applications"])


def standing_follow(user, standing: str, owned: frozenset[str] | None = None) -> None:
    """Move the local user to the Django group of this standing (and these owned applications) when changed."""
    if standing != standing_of(user):
        apply_standing(user, standing, owned)
    elif owned is not None:
        owned_record(user, owned if standing else frozenset())


# --- User administration: one predicate per rule --------------------------------------------------
# `actor` is the signed-in local user; `entry` is the target's DirectoryEntry (its `staff` column says
# whether it is a staff account, its `sub` whether it is the actor's own).


def is_portal_staff(actor) -> bool:
    """Return True for an active, signed-in staff member (the admin site's own gate)."""
    return bool(getattr(actor, "is_authenticated", False) and actor.is_active and actor.is_staff)


def _holds(actor, codename: str) -> bool:
    """Return True when an active staff member holds this portal permission."""
    return is_portal_staff(actor) and actor.has_perm(f"accounts.{codename}")


def _is_self(actor, entry) -> bool:
    """Return True when the entry is the actor's own account."""
    return bool(getattr(actor, "cognito_sub", None)) and entry.sub == actor.cognito_sub


def _is_administrator(actor) -> bool:
    """Return True for an administrator (computed once per request object)."""
    if not hasattr(actor, "_portal_standing"):
        actor._portal_standing = standing_of(actor)
    return actor._portal_standing == ADMIN


def shield_applies(actor) -> bool:
    """Return True when the target's staff standing decides this actor's rules (so it must be read live)."""
    return not _is_administrator(actor)


def _shielded(actor, entry) -> bool:
    """Return True when the entry is a staff account and the actor is not an administrator."""
    return bool(entry.staff) and shield_applies(actor)


def is_administrator(actor) -> bool:
    """Return True for an active administrator (staff accounts are theirs to change; MFA may be required)."""
    return is_portal_staff(actor) and _is_administrator(actor)


def refusal_reason(actor, entry) -> str:
    """Return which shared rule refuses the actor on this entry: 'staff', 'self', or '' for neither."""
    if _shielded(actor, entry):
        return "staff"
    return "self" if _is_self(actor, entry) else ""


def can_view_directory(actor) -> bool:
    """Find users, open their pages and refresh the directory."""
    return _holds(actor, "view_directory")


def can_invite(actor) -> bool:
    """Invite a new user."""
    return _holds(actor, "invite_user")


def can_grant(actor, entry) -> bool:
    """Grant and revoke a user's applications (an owner: only those they own, see can_change_application)."""
    return (_holds(actor, "grant_access") or is_owner(actor)) and not _shielded(actor, entry)


def can_change_application(actor, entry, application: str) -> bool:
    """Grant or revoke this one application of a user: whoever grants any, or an owner of this application."""
    if not can_grant(actor, entry):
        return False
    return _holds(actor, "grant_access") or application in owned_applications(actor)


def can_change_role(actor, entry) -> bool:
    """Change a user's role and level: never one's own, and staff accounts only by administrators."""
    return _holds(actor, "change_role") and not _is_self(actor, entry) and not _shielded(actor, entry)


def can_reset_password(actor, entry) -> bool:
    """Reset a user's password."""
    return _holds(actor, "reset_password") and not _shielded(actor, entry)


def can_sign_out(actor, entry) -> bool:
    """Sign a user out everywhere."""
    return _holds(actor, "sign_out_user") and not _shielded(actor, entry)


def can_disable(actor, entry) -> bool:
    """Disable or enable a user: never one's own account."""
    return _holds(actor, "disable_user") and not _is_self(actor, entry) and not _shielded(actor, entry)


def can_delete(actor, entry) -> bool:
    """Delete a user: never one's own account."""
    return _holds(actor, "delete_user") and not _is_self(actor, entry) and not _shielded(actor, entry)


def can_view_audit(actor) -> bool:
    """Read and export the audit log."""
    return _holds(actor, "view_audit")


# --- Application owners: every rule of theirs is scoped to the applications they own -----------------


def owned_applications(actor) -> frozenset[str]:
    """Return the applications an active staff member owns, as last read live (at most the recheck period ago)."""
    if not is_portal_staff(actor):
        return frozenset()
    return frozenset(getattr(actor, "owned_applications", None) or ())


def is_owner(actor) -> bool:
    """Return True for an active staff member who owns at least one application."""
    return bool(owned_applications(actor))


def can_browse_directory(actor) -> bool:
    """Find users and open the directory: its viewers, and owners (the users of their applications only)."""
    return can_view_directory(actor) or is_owner(actor)


def entries_visible(actor, entries: QuerySet) -> QuerySet:
    """Return the directory rows the actor may see: all to its viewers, an owner's applications' users to an owner."""
    if can_view_directory(actor):
        return entries
    owned = owned_applications(actor)
    if not owned:
        return entries.none()
    return entries.filter(sub__in=_holders(sorted(owned)))


def _holders(applications: list[str]):
    """Return the subs holding any of these applications, as a subquery."""
    return DirectoryGrant.objects.filter(application__in=applications).values("entry_id")


def can_view_entry(actor, entry) -> bool:
    """Open a user's page: the directory's viewers; an owner, when the indexed user holds one of their applications."""
    if can_view_directory(actor):
        return True
    owned = owned_applications(actor)
    return bool(owned) and entry is not None and any(grant.application in owned for grant in entry.grants.all())


def access_scope(actor) -> frozenset[str] | None:
    """Return the applications the actor's access form offers: None for all, else the ones they own."""
    return None if _holds(actor, "grant_access") else owned_applications(actor)


def can_view_application(actor, application: str) -> bool:
    """Open an application's page and its members: registry managers, and the application's owners."""
    return can_manage_applications(actor) or application in owned_applications(actor)


def applications_visible(actor, applications: QuerySet) -> QuerySet:
    """Return the registry rows the actor may see: all to registry managers, their own to owners."""
    if can_manage_applications(actor):
        return applications
    return applications.filter(name__in=sorted(owned_applications(actor)))


def can_manage_owners(actor) -> bool:
    """See and change an application's owners: administrators only (an owner never makes another)."""
    return is_administrator(actor) and can_manage_applications(actor)


def can_change_owner(actor, member) -> bool:
    """Assign or remove an owner: administrators, never on their own account."""
    return can_manage_owners(actor) and not _is_self(actor, member)


def can_browse_audit(actor) -> bool:
    """Open the audit list: its readers, and owners (the events of their applications only)."""
    return can_view_audit(actor) or is_owner(actor)


def audit_visible(actor, events: QuerySet) -> QuerySet:
    """Return the audit events the actor may read: all to its readers, those about their applications to owners."""
    if can_view_audit(actor):
        return events
    owned = sorted(owned_applications(actor))
    if not owned:
        return events.none()
    about = Q()
    for application in owned:
        about |= Q(applications__contains=f" {application} ")
    return events.filter(about)


# --- Bulk work and access reviews -------------------------------------------------------------------


def can_import(actor) -> bool:
    """Import users from a CSV file: invite, grant and change roles, so administrators only."""
    return _holds(actor, "invite_user") and _holds(actor, "grant_access") and _holds(actor, "change_role")


def can_bulk(actor, action: str) -> bool:
    """Run a bulk action on a selection: the help desk may only set roles; the rest is for administrators."""
    if action == "set_role":
        return _holds(actor, "change_role")
    return _holds(actor, "view_directory") and is_administrator(actor)


def can_view_job(actor, job) -> bool:
    """See a bulk job's progress and report: its author, or any administrator."""
    return is_portal_staff(actor) and (job.created_by_id == actor.pk or _is_administrator(actor))


def jobs_visible(actor, jobs: QuerySet) -> QuerySet:
    """Return the jobs the actor may see: can_view_job as a queryset filter, for the list of jobs."""
    if not is_portal_staff(actor):
        return jobs.none()
    return jobs if _is_administrator(actor) else jobs.filter(created_by_id=actor.pk)


def can_apply_job(actor, job) -> bool:
    """Apply a previewed job: its author only (the one who saw the preview)."""
    return is_portal_staff(actor) and job.created_by_id == actor.pk


def can_steer_job(actor, job) -> bool:
    """Resume, retry or cancel a job: whoever may see it."""
    return can_view_job(actor, job)


def can_review_access(actor) -> bool:
    """See the access matrix and the dashboard (the directory's data, arranged differently)."""
    return _holds(actor, "view_directory")


def can_export_access(actor) -> bool:
    """Export the access review: it carries who changed what, from the audit log."""
    return _holds(actor, "view_directory") and _holds(actor, "view_audit")


def can_resend_invitation(actor, entry) -> bool:
    """Send a user's invitation again (they never signed in): whoever may invite."""
    return _holds(actor, "invite_user") and not _shielded(actor, entry)


# --- Staff management -------------------------------------------------------------------------------


def can_manage_staff(actor) -> bool:
    """See the staff page: who holds administrator or help-desk standing. Administrators only."""
    return is_administrator(actor)


def can_change_standing(actor, member) -> bool:
    """Grant or remove a member's staff standing: administrators, never on their own account."""
    return can_manage_staff(actor) and not _is_self(actor, member)


def keeps_an_administrator(enabled_administrators, sub: str) -> bool:
    """Return True unless `sub` is the last enabled administrator (never removed, disabled or deleted)."""
    enabled = set(enabled_administrators)
    return sub not in enabled or bool(enabled - {sub})


USER_ACTIONS = {
    "grant": can_grant,
    "change_role": can_change_role,
    "reset_password": can_reset_password,
    "sign_out": can_sign_out,
    "disable": can_disable,
    "delete": can_delete,
    "resend_invitation": can_resend_invitation,
}


def allowed_actions(actor, entry) -> dict[str, bool]:
    """Return, for the user page's template, which actions the actor may take on this entry."""
    return {name: rule(actor, entry) for name, rule in USER_ACTIONS.items()}


def can_manage_applications(actor) -> bool:
    """Manage the application registry: applications, their API keys, the pool's health check."""
    return _holds(actor, "manage_applications")


class CommandActor:
    """The operator of a management command, acting through the same services as the screens.

    It holds every portal permission as an administrator (whoever runs manage.py already holds the
    database and the AWS credentials) and is audited under the command's name.
    """

    is_authenticated = is_active = is_staff = True
    _portal_standing = ADMIN

    def __init__(self, name: str):
        self.name = name

    def has_perm(self, perm: str) -> bool:
        """Grant every portal permission."""
        return perm.startswith("accounts.")

    def __str__(self) -> str:
        return self.name


# --- Access review campaigns ------------------------------------------------------------------------


def can_start_review(actor) -> bool:
    """Start an access review campaign: administrators only."""
    return is_administrator(actor)


def can_review(actor) -> bool:
    """Open the campaigns and one's worklist in them: any active staff member (a reviewer's items are theirs)."""
    return is_portal_staff(actor)


def reviews_self(actor, item) -> bool:
    """Return True when a review item is the actor's own access: nobody certifies themselves."""
    return _is_self(actor, item)


def can_decide(actor, item) -> bool:
    """Decide a review item: its reviewer, or an administrator for items left to the administrators; never
    one's own access."""
    if not is_portal_staff(actor) or reviews_self(actor, item):
        return False
    return item.reviewer_id == actor.pk if item.reviewer_id is not None else _is_administrator(actor)


def items_decidable(actor, items: QuerySet) -> QuerySet:
    """Return the items the actor may decide: can_decide as a queryset filter, for the worklist."""
    if not is_portal_staff(actor):
        return items.none()
    mine = items.filter(reviewer_id=actor.pk)
    if _is_administrator(actor):
        mine = items.filter(reviewer_id=actor.pk) | items.filter(reviewer__isnull=True)
    return mine.exclude(sub=getattr(actor, "cognito_sub", None) or "")


def can_view_review_report(actor) -> bool:
    """See a campaign's report and progress: who decided what, and what applying it did. Administrators only."""
    return is_administrator(actor)
