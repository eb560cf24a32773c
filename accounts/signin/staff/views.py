"""Staff management screens, inside the admin site (accounts/admin/site.py mounts them): administrators only.

Thin views: the form checks the shape, the service checks the rules, changes Cognito and audits; granting
administrator standing first shows a page saying what will happen, and acts only on its confirmed POST.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit.forms import ReasonForm
from accounts.directory import services as directory_services
from accounts.rules import permissions, roles
from accounts.rules.errors import ServiceError
from accounts.signin.staff import selectors, services
from accounts.signin.staff.forms import GrantForm, RemoveForm

TEMPLATES = "admin/staff/"
SAID = {
    "granted": "{email} now holds {standing} standing. A session they have open gains it at its next standing check.",
    "removed": "{email} no longer holds {standing} standing.",
    "sessions_ended": "Their portal sessions were ended.",
    "invalid": "Enter a user's email address and choose a standing. Nothing was changed.",
}


def _guard(request) -> None:
    """Refuse anyone but an administrator (403)."""
    if not permissions.can_manage_staff(request.user):
        raise PermissionDenied


def _refused(request, form, action: str, sub: str = "") -> None:
    """Audit a form the shape check refused (as its service would have been refused), then say so."""
    try:
        directory_services.input_refused(
            actor=request.user,
            action=action,
            message=SAID["invalid"],
            rule=lambda actor, _entry: permissions.can_manage_staff(actor),
            target=str(form.data.get("email", "") or sub).strip().lower(),
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)


def _context(request, site, **extra) -> dict:
    """Return the admin frame's context for a staff screen."""
    return {**site.each_context(request), **extra}


@require_GET
def staff_list(request, site):
    """List administrators and help desk, read live from Cognito, with the controls to change their standing."""
    _guard(request)
    members = selectors.staff_members()
    return TemplateResponse(
        request,
        TEMPLATES + "list.html",
        _context(
            request,
            site,
            title="Staff",
            members=[(member, permissions.can_change_standing(request.user, member)) for member in members],
            form=GrantForm(),
            groups=roles.staff_groups(),
            standings=list(permissions.STANDING_LABELS.items()),
        ),
    )


@require_http_methods(["GET", "POST"])
def staff_grant(request, site):
    """Grant a standing (POST); administrator standing asks first on a confirmation page."""
    _guard(request)
    form = GrantForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        if request.method == "POST":
            _refused(request, form, "staff_grant")
        else:
            messages.error(request, SAID["invalid"])
        return redirect("admin:staff")
    data = form.cleaned_data
    if request.method == "GET" or (data["standing"] == permissions.ADMIN and not data["confirm"]):
        return _confirm_page(request, site, data)
    try:
        change = services.staff_grant(
            actor=request.user,
            email=data["email"],
            standing_name=data["standing"],
            request=request,
            reason=data["reason"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        standing = permissions.STANDING_LABELS[data["standing"]].lower()
        messages.success(request, SAID["granted"].format(email=change.email, standing=standing))
    return redirect("admin:staff")


def _confirm_page(request, site, data: dict):
    """Show what granting this standing will do, with the confirming form (or, for help desk, the plain one)."""
    return TemplateResponse(
        request,
        TEMPLATES + "grant_confirm.html",
        _context(
            request,
            site,
            title="Grant staff standing",
            email=data["email"],
            standing=data["standing"],
            label=permissions.STANDING_LABELS[data["standing"]].lower(),
            administrator=data["standing"] == permissions.ADMIN,
            reason_form=ReasonForm(initial={"reason": data["reason"]}),
        ),
    )


@require_POST
def staff_remove(request, sub: str, site):
    """Remove a standing from a member (POST), then go back to the staff page."""
    _guard(request)
    form = RemoveForm(request.POST)
    if not form.is_valid():
        _refused(request, form, "staff_remove", sub)
        return redirect("admin:staff")
    name = form.cleaned_data["standing"]
    try:
        change = services.staff_remove(
            actor=request.user, sub=sub, standing_name=name, request=request, reason=form.cleaned_data["reason"]
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        standing = permissions.STANDING_LABELS[name].lower()
        messages.success(request, SAID["removed"].format(email=change.email, standing=standing))
        if change.sessions_ended:
            messages.info(request, SAID["sessions_ended"])
    return redirect("admin:staff")
