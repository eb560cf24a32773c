"""Application registry screens, served inside the admin site (accounts/admin.py mounts them).

Thin views: the registry services validate, check the rule and audit; the views turn results into
messages and redirects. Everything needs `manage_applications` (administrators).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from accounts import app_selectors, app_services, csvexport, permissions, pool_checks, roles, selectors, services
from accounts.models import Application

TEMPLATES = "admin/accounts/application/"
MEMBERS_PER_PAGE = 100
CSV_COLUMNS = ["email", "name", "role", "level", "status", "enabled", "sub"]

SAID = {
    "created": "Application {name} created: Cognito group {group}.",
    "updated": "Application {name} saved in Cognito.",
    "deleted": "Application {name} deleted; {count} member(s) lost access.",
    "removed": "{email} no longer has access to {name} and was signed out everywhere.",
    "revoked": "Key {key_id} revoked: it is refused from now on.",
    "refreshed": "Registry refreshed from Cognito: {added} added, {updated} updated.",
    "missing": "No Cognito group for: {names}. Recreate them with cognito_bootstrap, or delete them here.",
}


def _context(request, admin, **extra) -> dict:
    """Return the admin frame's context for one of these screens."""
    return {**admin.admin_site.each_context(request), "opts": admin.model._meta, **extra}


def _guard(request, *methods: str):
    """Refuse other methods (405) and actors without the registry permission (403)."""
    if request.method not in methods:
        return HttpResponseNotAllowed(list(methods))
    if not permissions.can_manage_applications(request.user):
        raise PermissionDenied
    return None


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


def _form_values(data) -> dict:
    """Return the registry form's fields as sent."""
    return {"description": data.get("description", ""), "role_arn": data.get("role_arn", ""),
            "precedence": data.get("precedence", "")}


def create(request, admin):
    """Show the new-application form; on POST create the group and the registry row."""
    if refused := _guard(request, "GET", "POST"):
        return refused
    values = {"name": "", "description": "", "role_arn": "", "precedence": ""}
    status = 200
    if request.method == "POST":
        values = {"name": request.POST.get("name", ""), **_form_values(request.POST)}
        try:
            application = app_services.application_create(actor=request.user, request=request, **values)
        except services.ServiceError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, SAID["created"].format(name=application.name,
                                                             group=roles.group_for_application(application.name)))
            return redirect(page_url(application))
    return TemplateResponse(request, TEMPLATES + "add.html", _context(
        request, admin, title="Add application", values=values,
        prefix=roles.group_for_application("")), status=status)


@never_cache
def application_page(request, pk, admin):
    """Show one application: its settings, API keys and members (filter by role, page by page)."""
    if refused := _guard(request, "GET"):
        return refused
    application = _application(pk)
    role = request.GET.get("role", "")
    if role and role not in roles.role_names() + list(app_selectors.ROLE_FILTERS):
        role = ""
    members = Paginator(app_selectors.application_members(application.name, role), MEMBERS_PER_PAGE)
    page = members.get_page(request.GET.get("page"))
    return TemplateResponse(request, TEMPLATES + "page.html", _context(
        request, admin, title=application.name, application=application,
        group=roles.group_for_application(application.name), page=page, role=role,
        role_choices=[(name, name.upper()) for name in roles.role_names()] + [("none", "None"),
                                                                              ("several", "Several (drift)")],
        keys=app_selectors.api_keys(application.name), member_total=members.count))


def update(request, pk, admin):
    """Save the description, IAM role ARN and precedence (POST)."""
    if refused := _guard(request, "POST"):
        return refused
    application = _application(pk)
    try:
        app_services.application_update(actor=request.user, name=application.name, request=request,
                                        **_form_values(request.POST))
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["updated"].format(name=application.name))
    return redirect(page_url(application))


def delete(request, pk, admin):
    """Confirm, then delete the application (typing its name when it has members)."""
    if refused := _guard(request, "GET", "POST"):
        return refused
    application = _application(pk)
    if request.method == "POST":
        try:
            count = app_services.application_delete(actor=request.user, name=application.name,
                                                    confirmation=request.POST.get("confirm", ""), request=request)
        except services.ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, SAID["deleted"].format(name=application.name, count=count))
            return redirect("admin:accounts_application_changelist")
    return TemplateResponse(request, TEMPLATES + "delete.html", _context(
        request, admin, title=f"Delete {application.name}", application=application,
        members=app_selectors.member_count(application.name)))


def member_remove(request, pk, sub, admin):
    """Remove one member's access, from the application's page (POST)."""
    if refused := _guard(request, "POST"):
        return refused
    application = _application(pk)
    entry = selectors.entry_get(sub)
    try:
        result = app_services.application_member_remove(actor=request.user, name=application.name, sub=sub,
                                                        request=request)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if result.failed:
            messages.error(request, result.failed[2])
        elif result.sessions_error:
            messages.warning(request, result.sessions_error)
        else:
            messages.success(request, SAID["removed"].format(email=entry.email if entry else sub,
                                                             name=application.name))
    return redirect(page_url(application, role=request.POST.get("role", ""), page=request.POST.get("page", "")))


def _member_values(members):
    """Yield one row of values per member."""
    for entry in members.iterator(chunk_size=2000):
        role = {"": "none", "*": "several"}.get(entry.role, entry.role)
        yield [entry.email, entry.name, role, entry.level, entry.status, entry.enabled, entry.sub]


def members_csv(request, pk, admin):
    """Stream the members (with the page's role filter) as CSV."""
    if refused := _guard(request, "GET"):
        return refused
    application = _application(pk)
    role = request.GET.get("role", "")
    rows = csvexport.lines(CSV_COLUMNS, _member_values(app_selectors.application_members(application.name, role)))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{application.name}-members-{stamp}.csv"'
    return response


@never_cache
def key_issue(request, pk, admin):
    """Issue a new API key and show it this once (POST; the page is not cached and nothing keeps the key)."""
    if refused := _guard(request, "POST"):
        return refused
    application = _application(pk)
    key = app_services.api_key_issue(actor=request.user, name=application.name, request=request)
    return TemplateResponse(request, TEMPLATES + "key_issued.html", _context(
        request, admin, title=f"New API key for {application.name}", application=application, key=key))


def key_revoke(request, pk, key_id, admin):
    """Revoke one API key (POST)."""
    if refused := _guard(request, "POST"):
        return refused
    application = _application(pk)
    try:
        app_services.api_key_revoke(actor=request.user, name=application.name, key_id=key_id, request=request)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["revoked"].format(key_id=key_id))
    return redirect(page_url(application))


def refresh(request, admin):
    """Read the pool's application groups into the registry (POST)."""
    if refused := _guard(request, "POST"):
        return refused
    result = app_services.applications_refresh(actor=request.user, request=request)
    messages.success(request, SAID["refreshed"].format(added=len(result["added"]), updated=len(result["updated"])))
    if result["missing"]:
        messages.warning(request, SAID["missing"].format(names=", ".join(result["missing"])))
    return redirect("admin:accounts_application_changelist")


@never_cache
def health(request, admin):
    """Run cognito_check's checks live and show what they found."""
    if refused := _guard(request, "GET"):
        return refused
    report = pool_checks.pool_check()
    checks = [(pool_checks.CHECKS[name], findings) for name, findings in report.by_check().items()]
    return TemplateResponse(request, TEMPLATES + "health.html", _context(
        request, admin, title="Pool health", report=report, checks=checks))
