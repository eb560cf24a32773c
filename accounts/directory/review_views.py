"""Access reviews inside the admin site: the dashboard, the users × applications matrix, the CSV export."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from accounts.applications import selectors as app_selectors
from accounts.audit import csvexport
from accounts.directory import reviews as access
from accounts.directory import selectors
from accounts.rules import permissions, roles

TEMPLATES = "admin/accounts/access/"
CHART_WIDTH, BAR_HEIGHT, LABEL_WIDTH = 480, 18, 110
MATRIX_PER_PAGE = 50


def _guard(request, rule) -> None:
    """Refuse anyone the rule refuses."""
    if not rule(request.user):
        raise PermissionDenied


def role_columns() -> list[tuple[str, str]]:
    """Return the dashboard's role columns as (key, label): each role, then none and several."""
    return roles.role_filter_choices()


def chart(counts: dict[str, dict[str, int]]) -> list[dict]:
    """Return one bar per application: its segments (role, count, x, width) scaled to the largest total."""
    largest = max([sum(per_role.values()) for per_role in counts.values()] + [1])
    bars = []
    for index, (app, per_role) in enumerate(counts.items()):
        x, segments = LABEL_WIDTH, []
        for role, label in role_columns():
            width = round(per_role.get(role, 0) * CHART_WIDTH / largest, 1)
            if per_role.get(role):
                segments.append({"role": role, "label": label, "count": per_role[role], "x": x, "width": max(width, 1)})
            x += width
        bars.append(
            {
                "app": app,
                "y": index * (BAR_HEIGHT + 6),
                "text_y": index * (BAR_HEIGHT + 6) + 13,
                "segments": segments,
                "total": sum(per_role.values()),
                "total_x": x + 6,
            }
        )
    return bars


@require_GET
def dashboard(request, admin):
    """Show counts per role per application, with a chart, and the users with no application or drifted roles."""
    _guard(request, permissions.can_review_access)
    counts = access.counts_per_application()
    rows = [
        {
            "app": app,
            "cells": [(role, per_role.get(role, 0)) for role, _label in role_columns()],
            "total": sum(per_role.values()),
        }
        for app, per_role in counts.items()
    ]
    bars = chart(counts)
    return TemplateResponse(
        request,
        TEMPLATES + "dashboard.html",
        admin.screen_context(
            request,
            title="Access dashboard",
            rows=rows,
            roles=role_columns(),
            bars=bars,
            chart_height=len(bars) * (BAR_HEIGHT + 6),
            chart_width=LABEL_WIDTH + CHART_WIDTH + 60,
            bar_height=BAR_HEIGHT,
            summary=access.summary(),
            ending=selectors.ending_counts(),
            can_export=permissions.can_export_access(request.user),
        ),
    )


def matrix_line(entry, apps: list[str], uses: dict, ends: dict) -> dict:
    """Return one matrix row: the user, their raise if any, and per application whether held, last used and until."""
    held = {grant.application for grant in entry.grants.all()}
    return {
        "entry": entry,
        "held": held,
        "raise": ends.get(""),
        "cells": [(app, app in held, uses.get(app), ends.get(app)) for app in apps],
    }


@require_GET
def matrix(request, admin):
    """Show users × applications with each user's role, filtered and paginated."""
    _guard(request, permissions.can_review_access)
    chosen = {name: request.GET.get(name, "").strip() for name in ("q", "application", "role", "status")}
    users = access.matrix_queryset(
        search=chosen["q"], application=chosen["application"], role=chosen["role"], status=chosen["status"]
    )
    page = Paginator(users, MATRIX_PER_PAGE).get_page(request.GET.get("page"))
    apps = app_selectors.application_names()
    uses = app_selectors.last_uses([entry.sub for entry in page])
    ends = selectors.ends_by_user(entry.sub for entry in page)
    lines = [matrix_line(entry, apps, uses.get(entry.sub, {}), ends.get(entry.sub, {})) for entry in page]
    return TemplateResponse(
        request,
        TEMPLATES + "matrix.html",
        admin.screen_context(
            request,
            title="Access matrix",
            page=page,
            apps=apps,
            lines=lines,
            chosen=chosen,
            role_choices=role_columns(),
            query=urlencode({k: v for k, v in chosen.items() if v}),
            time_zone=settings.TIME_ZONE,
        ),
    )


@require_GET
def review_csv(request, admin):
    """Stream the access review (one application with ?application=, else the whole pool) as CSV."""
    _guard(request, permissions.can_export_access)
    application = request.GET.get("application", "")
    if application and application not in app_selectors.application_names():
        return HttpResponseBadRequest(f"Unknown application: {application}.", content_type="text/plain")
    rows = csvexport.lines(access.REVIEW_COLUMNS, access.review_rows(application))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    scope = application or "all"
    response["Content-Disposition"] = f'attachment; filename="access-review-{scope}-{stamp}.csv"'
    return response
