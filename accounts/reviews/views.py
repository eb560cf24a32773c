"""Access review screens inside the admin site (accounts/admin/site.py mounts them).

Thin views: the form checks the shape, one service checks the rules, records and audits, the view says how
it went and redirects. Administrators start campaigns and read the reports; every reviewer has a worklist.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import csvexport
from accounts.directory import services as directory_services
from accounts.reviews import selectors, services
from accounts.reviews.forms import CampaignForm, DecideForm
from accounts.reviews.words import SAID
from accounts.rules import permissions, words
from accounts.rules.errors import ServiceError

TEMPLATES = "admin/reviews/"


def _guard(request, rule) -> None:
    """Refuse anyone the rule refuses (403)."""
    if not rule(request.user):
        raise PermissionDenied


def _campaign(request, pk: int):
    """Return the campaign the user may see, or answer 404."""
    campaign = selectors.campaign_get(request.user, pk)
    if campaign is None:
        raise Http404
    return campaign


def _errors(form) -> str:
    """Return a form's errors as one line."""
    return " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


def _refused(request, form, action: str, rule, message: str, target: str = "") -> None:
    """Audit a form the shape check refused (as its service would have been refused), then say so."""
    try:
        directory_services.input_refused(
            actor=request.user,
            action=action,
            message=message,
            rule=lambda actor, _none: rule(actor),
            target=target,
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)


@require_GET
def review_list(request, site):
    """List the campaigns the user sees, with their progress."""
    _guard(request, permissions.can_review)
    campaigns = selectors.campaigns_visible(request.user).select_related("created_by")
    return TemplateResponse(
        request,
        TEMPLATES + "list.html",
        {
            **site.each_context(request),
            "title": "Access reviews",
            "campaigns": campaigns,
            "can_start": permissions.can_start_review(request.user),
        },
    )


@require_http_methods(["GET", "POST"])
def review_start(request, site):
    """Show the form to start a campaign (GET), or start it (POST) and open it."""
    _guard(request, permissions.can_start_review)
    form = CampaignForm(request.POST or None, initial={"deadline": services.deadline_default(timezone.now())})
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                campaign = services.campaign_start(actor=request.user, request=request, **data)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    SAID["started"].format(
                        pk=campaign.pk,
                        items=words.counted(campaign.items.count(), "item"),
                        reviewers=words.counted(campaign.items.values("reviewer").distinct().count(), "reviewer"),
                        deadline=f"{campaign.deadline:%Y-%m-%d %H:%M}",
                    ),
                )
                return redirect("admin:review_detail", campaign.pk)
        else:
            message = SAID["invalid"].format(errors=_errors(form))
            _refused(request, form, "review_start", permissions.can_start_review, message)
    return TemplateResponse(
        request,
        TEMPLATES + "start.html",
        {**site.each_context(request), "title": "Start an access review", "form": form},
    )


@require_GET
def review_detail(request, campaign_id: int, site):
    """Show a campaign: the user's worklist (with what changed since the snapshot) and, for administrators, progress."""
    _guard(request, permissions.can_review)
    campaign = _campaign(request, campaign_id)
    items = [(item, selectors.changed_now(item)) for item in selectors.worklist(request.user, campaign)]
    report = permissions.can_view_review_report(request.user)
    return TemplateResponse(
        request,
        TEMPLATES + "detail.html",
        {
            **site.each_context(request),
            "title": str(campaign),
            "campaign": campaign,
            "items": items,
            "undecided": sum(1 for item, _changed in items if not item.decision),
            "open": campaign.status == campaign.OPEN and timezone.now() < campaign.deadline,
            "progress": selectors.progress(campaign) if report else None,
            "can_report": report,
        },
    )


@require_POST
def review_decide(request, campaign_id: int, site):
    """Decide the chosen items of the user's worklist (POST), then go back to it."""
    _guard(request, permissions.can_review)
    campaign = _campaign(request, campaign_id)
    form = DecideForm(request.POST)
    if not form.is_valid():
        message = " ".join(error for errors in form.errors.values() for error in errors)
        _refused(request, form, "review_decide", permissions.can_review, message, target=str(campaign))
        return redirect("admin:review_detail", campaign.pk)
    data = form.cleaned_data
    try:
        decided = services.review_decide(
            actor=request.user,
            campaign=campaign,
            item_ids=data["items"],
            decision=data["decision"],
            reason=data["reason"],
            request=request,
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, SAID["decided"].format(decisions=words.counted(decided.count, "decision"), revoke=decided.revoke)
        )
    return redirect("admin:review_detail", campaign.pk)


@require_GET
def review_report(request, campaign_id: int, site):
    """Show a campaign's report as a printable page: every item, its decision and what applying it did."""
    _guard(request, permissions.can_view_review_report)
    campaign = _campaign(request, campaign_id)
    return TemplateResponse(
        request,
        TEMPLATES + "report.html",
        {
            **site.each_context(request),
            "title": f"Report: {campaign}",
            "campaign": campaign,
            "items": selectors.report_items(campaign),
            "progress": selectors.progress(campaign),
            "outcomes": selectors.outcome_counts(campaign),
            "printed_at": timezone.now(),
        },
    )


@require_GET
def review_report_csv(request, campaign_id: int, site):
    """Stream a campaign's report as CSV."""
    _guard(request, permissions.can_view_review_report)
    campaign = _campaign(request, campaign_id)
    rows = csvexport.lines(selectors.REPORT_COLUMNS, selectors.report_rows(campaign))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-review-{campaign.pk}-report.csv"'
    return response
