"""User administration screens, served inside the admin site (accounts/admin/ mounts them).

Each view is thin: the service does the work, checks the rule and audits; the view turns the result into
messages and redirects. Permission is checked by the same predicates the templates use.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import cognito, tasks
from accounts.audit import words as audit_words
from accounts.audit.forms import ReasonForm
from accounts.directory import selectors, services, sync_lease
from accounts.directory.forms import (
    AccessForm,
    ConfirmForm,
    DeleteForm,
    EndChangeForm,
    GrantUntilForm,
    InviteForm,
    RaiseForm,
    RoleForm,
    first_error,
)
from accounts.rules import ends as end_rules
from accounts.rules import permissions, roles

TEMPLATES = "admin/accounts/directoryentry/"
HISTORY_SHOWN = 50  # the latest audit events on a user's page

SAID = {
    "role_changed": "Role changed to {role}. The user was signed out everywhere, so every application gets "
    "the new role at its next sign-in or token refresh.",
    "role_unchanged": "The user already holds {role}: nothing was changed.",
    "role_partial": "Role changed to {role}, but the user could not be signed out: {error} "
    "Use “Sign out everywhere” to finish.",
    "granted": "Granted {app}.",
    "revoked": "Revoked {app}.",
    "access_unchanged": "Nothing to change: the user already holds exactly these applications.",
    "access_failed": "Could not {operation} {app}: {error} Not applied: {rest}.",
    "access_signed_out": "The user was signed out everywhere, so no application keeps a revoked access past "
    "its next token refresh.",
    "access_partial": "{error} Use “Sign out everywhere” to finish.",
    "reset": "Cognito sent a password reset code to {email}; the user sets a new password at next sign-in.",
    "signed_out": "{email} is signed out everywhere: their refresh tokens are revoked.",
    "disabled": "{email} is disabled and signed out everywhere.",
    "enabled": "{email} is enabled.",
    "deleted": "{email} was deleted from Cognito and the directory.",
    "invited": "{email} was invited; Cognito sends them a temporary password.",
    "sync_queued": "A sync of the whole directory is queued; this page follows it.",
    "refreshed": "Refreshed {users} from Cognito ({gone} no longer {exist}).",
    "granted_until": "Granted {app} until {when}.",
    "end_moved": "{app} now ends {when}.",
    "end_removed": "{app} no longer ends: the grant is permanent.",
    "raised": "Role raised to {role} until {when}; then the user returns to {back}. They were signed out everywhere.",
    "reinvited": "The invitation was sent again to {email}; Cognito emails them a new temporary password.",
}
# What each confirmed action will do, said on its confirmation page before anything changes.
CONFIRM = {
    "reset_password": (
        "Reset the password of {email}?",
        "Their current password stops working at once. Cognito emails them a code, and they choose a new "
        "password at their next sign-in.",
    ),
    "sign_out": (
        "Sign {email} out everywhere?",
        "They will be signed out of every application: every refresh token they hold is revoked, the "
        "applications refuse their current tokens, and they must sign in again.",
    ),
    "disable": (
        "Disable {email}?",
        "They can no longer sign in, and they will be signed out of every application. Enable them again to undo it.",
    ),
    "access": (
        "Change the applications of {email}?",
        "Revoking signs them out of every application, so no revoked access outlives their current tokens; "
        "they sign in again to use the applications they keep.",
    ),
}


def _user_url(sub: str) -> str:
    """Return the URL of a user's page."""
    return reverse("admin:accounts_directoryentry_change", args=[sub])


def _indexed(sub: str):
    """Return the index row for a sub, or raise Http404."""
    entry = selectors.entry_get(sub)
    if entry is None:
        raise Http404("No such user in the directory.")
    return entry


@require_GET
def user_page(request, sub: str, admin):
    """Show one user live from Cognito (two calls), with the controls the viewer may use (an owner's: scoped)."""
    if not permissions.can_view_entry(request.user, selectors.entry_get(sub)):
        raise PermissionDenied
    try:
        view = selectors.user_live(sub)
    except cognito.UserNotFound:
        raise Http404("No such user in Cognito.") from None
    entry = view.entry
    held = view.roles_held
    return TemplateResponse(
        request,
        TEMPLATES + "user_page.html",
        admin.screen_context(
            request,
            title=view.user.name or view.user.email,
            view=view,
            entry=entry,
            can=permissions.allowed_actions(request.user, entry),
            scope=permissions.access_scope(request.user),
            role_form=RoleForm(
                initial={
                    "role": held[0].name if held else None,
                    "level": held[0].level if held else 1,
                    "shown": entry.role_key,
                }
            ),
            access_form=AccessForm(initial={"applications": view.applications}),
            reason_form=ReasonForm(),
            until_form=GrantUntilForm(scope=permissions.access_scope(request.user)),
            raise_form=RaiseForm(initial={"role": held[0].name if held else None, "shown": entry.role_key}),
            ends=selectors.ends_of(sub),
            time_zone=settings.TIME_ZONE,
            attributes=sorted(view.user.attributes.items()),
            history=_with_words(
                list(permissions.audit_visible(request.user, selectors.user_history(sub))[:HISTORY_SHOWN])
            ),
            last_use=selectors.applications_last_use(sub, view.applications),
            last_sign_in=selectors.staff_last_sign_in(sub) if entry.staff else None,
        ),
    )


def _with_words(events: list) -> list:
    """Give each audit event its words (granted until, extended, ended (expired), raised)."""
    for event in events:
        event.words = audit_words.end_summary(event.action, event.after)
    return events


def _checked(request, form, action: str, rule, sub: str = "") -> dict:
    """Return the form's cleaned data, or audit the refused attempt (denied if the rule refuses) and raise it."""
    if not form.is_valid():
        services.input_refused(
            actor=request.user,
            action=action,
            message=first_error(form),
            rule=rule,
            sub=sub,
            target=form.data.get("email", "").strip().lower(),
            request=request,
            reason=form.data.get("reason", ""),
        )
    return form.cleaned_data


def _may_invite(actor, _entry) -> bool:
    """Return the invitation rule in the shape of the rules on a user."""
    return permissions.can_invite(actor)


@require_POST
def role_change(request, sub: str, admin):
    """Change the user's role and level, then go back to their page."""
    try:
        data = _checked(request, RoleForm(request.POST), "role_change", permissions.can_change_role, sub)
        result = services.role_change(
            actor=request.user,
            sub=sub,
            role=data["role"],
            level=data["level"],
            shown=data["shown"],
            request=request,
            reason=data["reason"],
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    role = result.role.label
    if not result.changed:
        messages.info(request, SAID["role_unchanged"].format(role=role))
    elif result.error:
        messages.warning(request, SAID["role_partial"].format(role=role, error=result.error))
    else:
        messages.success(request, SAID["role_changed"].format(role=role))
    return redirect(_user_url(sub))


@require_POST
def access_set(request, sub: str, admin):
    """Grant and revoke applications in one submit, reporting each change; a revoke is confirmed first."""
    try:
        data = _checked(request, AccessForm(request.POST), "access_set", permissions.can_grant, sub)
        if (unconfirmed := _revoke_unconfirmed(request, admin, sub, data)) is not None:
            return unconfirmed
        result = services.access_set(
            actor=request.user, sub=sub, applications=data["applications"], request=request, reason=data["reason"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    for app in result.granted:
        messages.success(request, SAID["granted"].format(app=app))
    for app in result.revoked:
        messages.success(request, SAID["revoked"].format(app=app))
    if result.failed:
        operation, app, error = result.failed
        rest = ", ".join(f"{op} {name}" for op, name in [(operation, app), *result.not_attempted])
        messages.error(request, SAID["access_failed"].format(operation=operation, app=app, error=error, rest=rest))
    elif not result.changed:
        messages.info(request, SAID["access_unchanged"])
    _report_sign_out(request, result)
    return _back_after_access(request, sub)


def _back_after_access(request, sub: str):
    """Return to the user's page, or to the directory when the actor may no longer see them (an owner's revoke)."""
    if permissions.can_view_entry(request.user, selectors.entry_get(sub)):
        return redirect(_user_url(sub))
    return redirect("admin:accounts_directoryentry_changelist")


def _revoke_unconfirmed(request, admin, sub: str, data: dict):
    """Return the confirmation page for a submit that revokes an application unconfirmed, else None."""
    entry = selectors.entry_get(sub)  # not in the index: the service says so, audited
    granted, revoked = selectors.access_changes(entry, data["applications"]) if entry else ([], [])
    if not revoked or data["confirm"]:
        return None
    if not permissions.can_grant(request.user, entry):
        raise PermissionDenied
    hidden = [("applications", app) for app in data["applications"]]
    details = {"Revoke": revoked, "Grant": granted, "Keep": sorted(set(data["applications"]) - set(granted))}
    return _confirm_page(request, admin, entry, "access", hidden=hidden, details=details, reason=data["reason"])


def _report_sign_out(request, result: services.AccessResult) -> None:
    """Say whether the sign-out that follows a revoke happened."""
    if result.sessions_revoked:
        messages.info(request, SAID["access_signed_out"])
    elif result.sessions_error:
        messages.warning(request, SAID["access_partial"].format(error=result.sessions_error))


def _simple_action(request, sub: str, service, said: str, action: str, rule):
    """Run a one-step action on a user, with its reason, and report it."""
    entry = selectors.entry_get(sub)
    try:
        data = _checked(request, ReasonForm(request.POST), action, rule, sub)
        warning = service(actor=request.user, sub=sub, request=request, reason=data["reason"])
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if warning:
            messages.warning(request, warning)
        else:
            messages.success(request, SAID[said].format(email=entry.email))
    return redirect(_user_url(sub))


def _confirm_page(request, admin, entry, name: str, *, hidden=(), details=None, reason: str = ""):
    """Show what the action will do to this user, with the form that confirms it (nothing changed yet)."""
    question, consequence = CONFIRM[name]
    return TemplateResponse(
        request,
        TEMPLATES + "confirm.html",
        admin.screen_context(
            request,
            title=question.format(email=entry.email),
            entry=entry,
            name=name,
            consequence=consequence,
            details={label: apps for label, apps in (details or {}).items() if apps},
            hidden=hidden,
            reason_form=ReasonForm(initial={"reason": reason}),
            action=reverse(f"admin:accounts_directoryentry_{name}", args=[entry.sub]),
        ),
    )


def _confirmed_action(request, sub: str, admin, name: str, rule, service, said: str, action: str):
    """Show the confirmation page (GET, or a POST without `confirm`); act on the confirmed POST."""
    entry = _indexed(sub)
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        return _simple_action(request, sub, service, said, action, rule)
    if not rule(request.user, entry):
        raise PermissionDenied
    return _confirm_page(request, admin, entry, name)


@require_http_methods(["GET", "POST"])
def reset_password(request, sub: str, admin):
    """Confirm (GET), then reset the user's password (POST)."""
    return _confirmed_action(
        request,
        sub,
        admin,
        "reset_password",
        permissions.can_reset_password,
        services.user_reset_password,
        "reset",
        "user_reset_password",
    )


@require_http_methods(["GET", "POST"])
def sign_out(request, sub: str, admin):
    """Confirm (GET), then sign the user out everywhere (POST)."""
    return _confirmed_action(
        request, sub, admin, "sign_out", permissions.can_sign_out, services.user_sign_out, "signed_out", "user_sign_out"
    )


@require_http_methods(["GET", "POST"])
def disable(request, sub: str, admin):
    """Confirm (GET), then disable the user and sign them out (POST)."""
    return _confirmed_action(
        request, sub, admin, "disable", permissions.can_disable, services.user_disable, "disabled", "user_disable"
    )


@require_POST
def resend_invitation(request, sub: str, admin):
    """Send the invitation again to a user who never signed in (POST)."""
    try:
        invitation = services.user_resend_invitation(actor=request.user, sub=sub, request=request)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    if invitation.temporary_password:
        return TemplateResponse(
            request,
            TEMPLATES + "invite_done.html",
            admin.screen_context(request, title="Invitation sent again", invitation=invitation, entry=invitation.entry),
        )
    messages.success(request, SAID["reinvited"].format(email=invitation.entry.email))
    return redirect(_user_url(sub))


@require_POST
def enable(request, sub: str, admin):
    """Enable the user (POST)."""
    return _simple_action(request, sub, services.user_enable, "enabled", "user_enable", permissions.can_disable)


@require_http_methods(["GET", "POST"])
def delete(request, sub: str, admin):
    """Ask for the user's email (GET), then delete them (POST)."""
    entry = _indexed(sub)
    form = DeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            data = _checked(request, form, "user_delete", permissions.can_delete, sub)
            services.user_delete(
                actor=request.user, sub=sub, confirmation=data["confirm"], request=request, reason=data["reason"]
            )
        except services.ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, SAID["deleted"].format(email=entry.email))
            return redirect("admin:accounts_directoryentry_changelist")
    elif not permissions.can_delete(request.user, entry):
        raise PermissionDenied
    return TemplateResponse(
        request,
        TEMPLATES + "delete.html",
        admin.screen_context(request, title=f"Delete {entry.email}", entry=entry, form=form),
    )


@require_http_methods(["GET", "POST"])
def invite(request, admin):
    """Show the invitation form (GET) and invite the user (POST)."""
    if request.method != "POST":
        if not permissions.can_invite(request.user):
            raise PermissionDenied
        return _invite_form(request, admin, InviteForm(initial={"role": roles.role_names()[0], "level": 1}))
    form = InviteForm(request.POST)
    try:
        invitation = services.user_invite(
            actor=request.user, request=request, **_checked(request, form, "user_invite", _may_invite)
        )
    except services.EmailTaken as exc:
        return _invite_form(request, admin, form, error=exc.message, taken_sub=exc.details.get("sub", ""))
    except services.ServiceError as exc:
        return _invite_form(request, admin, form, error=exc.message)
    if invitation.temporary_password or invitation.access.failed:
        return TemplateResponse(
            request,
            TEMPLATES + "invite_done.html",
            admin.screen_context(request, title="User invited", invitation=invitation, entry=invitation.entry),
        )
    messages.success(request, SAID["invited"].format(email=invitation.entry.email))
    return redirect(_user_url(invitation.entry.sub))


def _invite_form(request, admin, form, *, error: str = "", taken_sub: str = ""):
    """Render the invitation form, with the service's refusal when there is one."""
    return TemplateResponse(
        request,
        TEMPLATES + "invite.html",
        admin.screen_context(
            request, title="Invite a user", form=form, error=error, taken_url=_user_url(taken_sub) if taken_sub else ""
        ),
        status=400 if error else 200,
    )


@require_POST
def refresh(request, admin):
    """Queue a sync of the whole directory, then show its progress."""
    tasks.directory_sync_request(actor=request.user, request=request)
    messages.success(request, SAID["sync_queued"])
    return redirect("admin:accounts_directoryentry_sync")


@require_GET
def sync_progress(request, admin):
    """Show the directory sync's state: queued, running (how far), or how the last run ended."""
    if not permissions.can_view_directory(request.user):
        raise PermissionDenied
    fresh = sync_lease.freshness()
    return TemplateResponse(
        request,
        TEMPLATES + "sync.html",
        admin.screen_context(
            request, title="Directory sync", fresh=fresh, reload_seconds=2 if fresh.running or fresh.queued else 0
        ),
    )


# --- Access that ends ----------------------------------------------------------------------------------------


@require_POST
def access_grant_until(request, sub: str, admin):
    """Grant one application until an end (or set the end of one held)."""
    try:
        data = _checked(request, GrantUntilForm(request.POST), "access_grant", permissions.can_grant, sub)
        result = services.access_grant(
            actor=request.user,
            sub=sub,
            application=data["application"],
            expires=data["expires"],
            request=request,
            reason=data["reason"],
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    if result.failed:
        messages.error(
            request,
            SAID["access_failed"].format(
                operation="grant", app=data["application"], error=result.failed[2], rest=data["application"]
            ),
        )
    else:
        when = end_rules.end_label(data["expires"])
        messages.success(request, SAID["granted_until"].format(app=data["application"], when=when))
    return redirect(_user_url(sub))


@require_POST
def access_end(request, sub: str, admin):
    """Move the end of a held application, or remove it."""
    try:
        data = _checked(request, EndChangeForm(request.POST), "access_extend", permissions.can_grant, sub)
        expires = None if data["remove"] else data["expires"]
        services.access_end_change(
            actor=request.user,
            sub=sub,
            application=data["application"],
            expires=expires,
            request=request,
            reason=data["reason"],
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    if expires is None:
        messages.success(request, SAID["end_removed"].format(app=data["application"]))
    else:
        messages.success(request, SAID["end_moved"].format(app=data["application"], when=end_rules.end_label(expires)))
    return redirect(_user_url(sub))


@require_POST
def role_raise(request, sub: str, admin):
    """Change the role until an end, after which the user returns to the role held before."""
    try:
        data = _checked(request, RaiseForm(request.POST), "role_raise", permissions.can_change_role, sub)
        result = services.role_raise(actor=request.user, sub=sub, request=request, **data)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_user_url(sub))
    raised = next((end for end in selectors.ends_of(sub) if end.kind == end.RAISE), None)
    when, back = end_rules.end_label(data["expires"]), raised.returns_to_label if raised else "None"
    said = SAID["raised"].format(role=result.role, when=when, back=back)
    if result.error:
        messages.warning(request, SAID["role_partial"].format(role=result.role, error=result.error))
    else:
        messages.success(request, said)
    return redirect(_user_url(sub))
