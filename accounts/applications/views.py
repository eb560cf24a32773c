"""Application registry screens, served inside the admin site (accounts/admin/ mounts them).

Thin views: the registry services validate, check the rule and audit; the views turn results into
messages and redirects. Everything needs `manage_applications` (administrators).
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.applications import selectors as app_selectors
from accounts.applications import services as app_services
from accounts.applications.forms import (
    ApplicationDeleteForm,
    ApplicationForm,
    MemberAddForm,
    MemberListForm,
    NewApplicationForm,
    OwnerAssignForm,
)
from accounts.audit import csvexport
from accounts.audit.forms import ReasonForm
from accounts.directory import selectors, services
from accounts.directory.forms import first_error
from accounts.models import Application
from accounts.pool import checks as pool_checks
from accounts.rules import permissions, reasons, roles, words
from accounts.signin.staff.selectors import application_owners
from accounts.signin.staff.services import owner_assign as owner_assign_service
from accounts.signin.staff.services import owner_remove as owner_remove_service

TEMPLATES = "admin/accounts/application/"
MEMBERS_PER_PAGE = 100
CSV_COLUMNS = ["email", "name", "role", "level", "role_label", "status", "enabled", "sub", "ends"]

SAID = {
    "created": "Application {name} created: Cognito group {group}.",
    "updated": "Application {name} saved in Cognito.",
    "deleted": "Application {name} deleted; {members} lost access.",
    "removed": "{email} no longer has access to {name} and was signed out everywhere.",
    "revoked": "Key {key_id} revoked: it is refused from now on.",
    "member_added": "{email} now has access to {name}.",
    "member_unknown": "No user with the email {email} is in the directory. Invite them, or refresh the directory.",
    "owner_assigned": "{email} now owns {name}: they see its users and grant and revoke it, nothing else.",
    "owner_removed": "{email} no longer owns {name}; their portal sessions ended.",
    "refreshed": "Registry refreshed from Cognito: {added} added, {updated} updated.",
    "missing": "No Cognito group for: {names}. Recreate them with cognito_bootstrap, or delete them here.",
}


def _guard_view(request, application: Application) -> None:
    """Refuse actors who may not see this application and its members (403): registry managers and its owners."""
    if not permissions.can_view_application(request.user, application.name):
        raise PermissionDenied


def _guard_owners(request) -> None:
    """Refuse actors who may not change an application's owners (403)."""
    if not permissions.can_manage_owners(request.user):
        raise PermissionDenied


def _guard(request) -> None:
    """Refuse actors without the registry permission (403)."""
    if not permissions.can_manage_applications(request.user):
        raise PermissionDenied


def _may_manage(actor, _entry) -> bool:
    """Return the registry rule in the shape of the rules on a user."""
    return permissions.can_manage_applications(actor)


def _checked(request, form, action: str, target: str) -> dict:
    """Return the form's cleaned data, or audit the refused attempt and raise it as InvalidInput."""
    if not form.is_valid():
        services.input_refused(
            actor=request.user,
            action=action,
            message=first_error(form),
            rule=_may_manage,
            target=target,
            request=request,
            reason=form.data.get("reason", ""),
        )
    return form.cleaned_data


def _application(pk) -> Application:
    """Return the application, or raise Http404."""
    application = Application.objects.filter(pk=pk).first()
    if application is None:
        raise Http404("No such application.")
    return application


def page_url(application: Application, **query) -> str:
    """Return the application's page URL, with a query string when given."""
    url = reverse("admin:accounts_application_change", args=[application.pk])
    query = {key: value for key, value in query.items() if value}
    return f"{url}?{urlencode(query)}" if query else url


@require_http_methods(["GET", "POST"])
def create(request, admin):
    """Show the new-application form; on POST create the group and the registry row."""
    _guard(request)
    form = NewApplicationForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        try:
            values = _checked(request, form, "application_create", str(request.POST.get("name", "")))
            application = app_services.application_create(actor=request.user, request=request, **values)
        except services.ServiceError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(
                request,
                SAID["created"].format(name=application.name, group=roles.group_for_application(application.name)),
            )
            return redirect(page_url(application))
    return TemplateResponse(
        request,
        TEMPLATES + "add.html",
        admin.screen_context(request, title="Add application", form=form, prefix=roles.group_for_application("")),
        status=status,
    )


@never_cache
@require_GET
def application_page(request, pk, admin):
    """Show one application: its settings, API keys, owners and members (an owner sees the members only)."""
    application = _application(pk)
    _guard_view(request, application)
    manage, owners = permissions.can_manage_applications(request.user), permissions.can_manage_owners(request.user)
    role = request.GET.get("role", "")
    if role and role not in dict(roles.role_filter_choices()):
        role = ""
    members = Paginator(app_selectors.application_members(application.name, role), MEMBERS_PER_PAGE)
    page = members.get_page(request.GET.get("page"))
    return TemplateResponse(
        request,
        TEMPLATES + "page.html",
        admin.screen_context(
            request,
            title=application.name,
            application=application,
            form=ApplicationForm(initial=_settings(application)),
            group=roles.group_for_application(application.name),
            page=page,
            role=role,
            role_choices=roles.role_filter_choices(),
            keys=app_selectors.api_keys(application.name),
            reason_form=ReasonForm(),
            reason_label=reasons.LABEL,
            reason_max=reasons.REASON_MAX,
            member_total=members.count,
            time_zone=settings.TIME_ZONE,
            can_manage=manage,
            can_owners=owners,
            owners=application_owners(application.name) if owners else [],
            owner_form=OwnerAssignForm(),
            member_form=MemberAddForm(),
            can_grant_here=permissions.can_view_application(request.user, application.name)
            and (manage or permissions.is_owner(request.user)),
            owner_group=roles.owner_group(application.name),
        ),
    )


def _settings(application: Application) -> dict:
    """Return the application's settings, as the form shows them."""
    return {
        "description": application.description,
        "role_arn": application.role_arn,
        "precedence": application.precedence,
    }


@require_POST
def update(request, pk, admin):
    """Save the description, IAM role ARN and precedence."""
    _guard(request)
    application = _application(pk)
    try:
        values = _checked(request, ApplicationForm(request.POST), "application_update", application.name)
        app_services.application_update(actor=request.user, name=application.name, request=request, **values)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["updated"].format(name=application.name))
    return redirect(page_url(application))


@require_http_methods(["GET", "POST"])
def delete(request, pk, admin):
    """Confirm, then delete the application (typing its name when it has members)."""
    _guard(request)
    application = _application(pk)
    form = ApplicationDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        try:
            values = _checked(request, form, "application_delete", application.name)
            count = app_services.application_delete(
                actor=request.user,
                name=application.name,
                confirmation=values["confirm"],
                request=request,
                reason=values["reason"],
            )
        except services.ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, SAID["deleted"].format(name=application.name, members=words.counted(count, "member"))
            )
            return redirect("admin:accounts_application_changelist")
    return TemplateResponse(
        request,
        TEMPLATES + "delete.html",
        admin.screen_context(
            request,
            title=f"Delete {application.name}",
            application=application,
            form=form,
            members=app_selectors.member_count(application.name),
        ),
    )


@require_POST
def member_remove(request, pk, sub, admin):
    """Remove one member's access, from the application's page (POST): the service checks the owner's scope."""
    application = _application(pk)
    _guard_view(request, application)
    entry = selectors.entry_get(sub)
    try:
        values = _checked(request, ReasonForm(request.POST), "access_set", application.name)
        result = app_services.application_member_remove(
            actor=request.user, name=application.name, sub=sub, request=request, reason=values["reason"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if result.failed:
            messages.error(request, result.failed[2])
        elif result.sessions_error:
            messages.warning(request, result.sessions_error)
        else:
            messages.success(
                request, SAID["removed"].format(email=entry.email if entry else sub, name=application.name)
            )
    back = MemberListForm(request.POST)
    return redirect(page_url(application, **(back.cleaned_data if back.is_valid() else {})))


def _member_values(members):
    """Yield one row of values per member."""
    for entry in members.iterator(chunk_size=2000):
        yield [
            entry.email,
            entry.name,
            roles.role_word(entry.role),
            entry.level,
            entry.role_label,
            entry.status,
            entry.enabled,
            entry.sub,
            entry.ends_at.isoformat() if entry.ends_at else "",
        ]


@require_GET
def members_csv(request, pk, admin):
    """Stream the members (with the page's role filter) as CSV."""
    application = _application(pk)
    _guard_view(request, application)
    role = request.GET.get("role", "")
    rows = csvexport.lines(CSV_COLUMNS, _member_values(app_selectors.application_members(application.name, role)))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{application.name}-members-{stamp}.csv"'
    return response


@never_cache
@require_POST
def key_issue(request, pk, admin):
    """Issue a new API key and show it this once (POST; the page is not cached and nothing keeps the key)."""
    _guard(request)
    application = _application(pk)
    try:
        values = _checked(request, ReasonForm(request.POST), "api_key_issue", application.name)
        key = app_services.api_key_issue(
            actor=request.user, name=application.name, request=request, reason=values["reason"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(page_url(application))
    return TemplateResponse(
        request,
        TEMPLATES + "key_issued.html",
        admin.screen_context(request, title=f"New API key for {application.name}", application=application, key=key),
    )


@require_POST
def key_revoke(request, pk, key_id, admin):
    """Revoke one API key (POST)."""
    _guard(request)
    application = _application(pk)
    try:
        values = _checked(request, ReasonForm(request.POST), "api_key_revoke", application.name)
        app_services.api_key_revoke(
            actor=request.user, name=application.name, key_id=key_id, request=request, reason=values["reason"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["revoked"].format(key_id=key_id))
    return redirect(page_url(application))


@require_POST
def refresh(request, admin):
    """Read the pool's application groups into the registry (POST)."""
    _guard(request)
    result = app_services.applications_refresh(actor=request.user, request=request)
    messages.success(request, SAID["refreshed"].format(added=len(result["added"]), updated=len(result["updated"])))
    if result["missing"]:
        messages.warning(request, SAID["missing"].format(names=", ".join(result["missing"])))
    return redirect("admin:accounts_application_changelist")


@never_cache
@require_GET
def health(request, admin):
    """Run cognito_check's checks live and show what they found."""
    _guard(request)
    report = pool_checks.pool_check()
    checks = [(pool_checks.CHECKS[name], findings) for name, findings in report.by_check().items()]
    return TemplateResponse(
        request,
        TEMPLATES + "health.html",
        admin.screen_context(request, title="Pool health", report=report, checks=checks),
    )


def _may_change_owners(actor, _entry) -> bool:
    """Return the owners rule in the shape of the rules on a user."""
    return permissions.can_manage_owners(actor)


@require_POST
def owner_assign(request, pk, admin):
    """Make a user, by email, an owner of the application (administrators)."""
    application = _application(pk)
    _guard_owners(request)
    form = OwnerAssignForm(request.POST)
    try:
        if not form.is_valid():
            _by_email_refused(request, form, "owner_assign", _may_change_owners, first_error(form))
        change = owner_assign_service(
            actor=request.user, application=application.name, request=request, **form.cleaned_data
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["owner_assigned"].format(email=change.email, name=application.name))
    return redirect(page_url(application))


@require_POST
def owner_remove(request, pk, sub, admin):
    """Remove an owner of the application (administrators); their portal sessions end."""
    application = _application(pk)
    _guard_owners(request)
    try:
        values = _checked(request, ReasonForm(request.POST), "owner_remove", application.name)
        change = owner_remove_service(
            actor=request.user, application=application.name, sub=sub, request=request, reason=values["reason"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["owner_removed"].format(email=change.email, name=application.name))
    return redirect(page_url(application))


@require_POST
def member_add(request, pk, admin):
    """Grant the application to a user found by email, from its page: the service checks an owner's scope."""
    application = _application(pk)
    _guard_view(request, application)
    form = MemberAddForm(request.POST)
    try:
        entry = _member_to_add(request, application, form)
        result = services.access_grant(
            actor=request.user,
            sub=entry.sub,
            application=application.name,
            request=request,
            reason=form.cleaned_data["reason"],
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if result.failed:
            messages.error(request, result.failed[2])
        else:
            messages.success(request, SAID["member_added"].format(email=entry.email, name=application.name))
    return redirect(page_url(application))


def _member_to_add(request, application: Application, form):
    """Return the directory row the form names, or audit the refused attempt and raise it."""
    entry = selectors.entry_by_email(form.cleaned_data["email"]) if form.is_valid() else None
    if entry is None:
        email = form.data.get("email", "").strip().lower()
        message = first_error(form) if form.errors else SAID["member_unknown"].format(email=email)
        rule = lambda actor, _entry: permissions.can_view_application(actor, application.name)  # noqa: E731
        _by_email_refused(request, form, "access_grant", rule, message)
    return entry


def _by_email_refused(request, form, action: str, rule, message: str) -> None:
    """Audit a refused form that names a user by email (denied when the rule refuses the actor); raise it."""
    services.input_refused(
        actor=request.user,
        action=action,
        message=message,
        rule=rule,
        target=form.data.get("email", "").strip().lower(),
        request=request,
        reason=form.data.get("reason", ""),
    )
