"""Events screens in the admin site (accounts/admin/events.py mounts them): subscriptions, their delivery log
with resend and replay, the secret shown once, the signing key, and the administrators' JSON-lines export.

Thin views: the events services validate, check `can_manage_applications` and audit.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.events import selectors, services
from accounts.events.forms import ExportForm, ReplayForm, SubscriptionForm
from accounts.models import Subscription
from accounts.rules import permissions
from accounts.rules.errors import ServiceError

TEMPLATES = "admin/accounts/subscription/"
SAID = {
    "resent": "Delivery {delivery} queued to be sent again.",
    "replayed": "{count} deliveries from event #{event} on queued to be sent again.",
    "paused": "Subscription paused: its deliveries wait.",
    "resumed": "Subscription resumed.",
    "deleted": "Subscription deleted.",
    "rotated": "A new signing key signs the Security Event Tokens ({kid}); the old one stays published a day.",
    "bad_replay": "Give the number of an event of this subscription.",
}


def _guard(request) -> None:
    """Refuse actors without the registry permission (403)."""
    if not permissions.can_manage_applications(request.user):
        raise PermissionDenied


def page_url(pk: int) -> str:
    """Return a subscription's page."""
    return reverse("admin:accounts_subscription_change", args=[pk])


@never_cache
@require_http_methods(["GET", "POST"])
def create(request, admin):
    """Show the new-subscription form; on POST create it and show its secret once."""
    _guard(request)
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            values = form.cleaned_data
            subscription, secret = services.subscription_create(actor=request.user, request=request, **values)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            return _secret_page(request, admin, subscription, secret)
    context = admin.screen_context(request, title="Add subscription", form=form)
    return TemplateResponse(request, TEMPLATES + "add.html", context, status=400 if form.is_bound else 200)


def _secret_page(request, admin, subscription: Subscription, secret: str):
    """Show a signing secret this once."""
    context = admin.screen_context(request, title="Signing secret", subscription=subscription, secret=secret)
    return TemplateResponse(request, TEMPLATES + "secret.html", context)


def _subscription(pk) -> Subscription:
    """Return the subscription or 404."""
    found = Subscription.objects.select_related("application").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


@never_cache
@require_GET
def page(request, pk, admin):
    """Show a subscription and its delivery log (attempts, status codes, latency, the event)."""
    _guard(request)
    subscription = _subscription(pk)
    deliveries = selectors.deliveries_of(subscription)
    attempts = selectors.attempts_of(deliveries)
    for delivery in deliveries:
        delivery.tries_shown = attempts.get(delivery.pk, [])
    context = admin.screen_context(
        request, title=f"Events to {subscription.application.name}", subscription=subscription, deliveries=deliveries
    )
    return TemplateResponse(request, TEMPLATES + "page.html", context)


@require_POST
def rotate(request, pk, admin):
    """Give the subscription a new secret and show it once (POST)."""
    _guard(request)
    try:
        secret = services.subscription_rotate(actor=request.user, pk=pk, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("admin:accounts_subscription_changelist")
    return _secret_page(request, admin, _subscription(pk), secret)


@require_POST
def activate(request, pk, admin, active: bool = True):
    """Resume (or pause) a subscription (POST)."""
    _guard(request)
    try:
        services.subscription_activate(actor=request.user, pk=pk, active=active, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["resumed" if active else "paused"])
    return redirect(page_url(pk))


@require_POST
def pause(request, pk, admin):
    """Pause a subscription (POST)."""
    return activate(request, pk, admin, active=False)


@require_POST
def delete(request, pk, admin):
    """Delete a subscription (POST)."""
    _guard(request)
    try:
        services.subscription_delete(actor=request.user, pk=pk, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["deleted"])
    return redirect("admin:accounts_subscription_changelist")


@require_POST
def resend(request, pk, delivery, admin):
    """Send one delivery again (POST)."""
    _guard(request)
    try:
        services.delivery_resend(actor=request.user, pk=pk, delivery=delivery, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["resent"].format(delivery=delivery))
    return redirect(page_url(pk))


@require_POST
def replay(request, pk, admin):
    """Send again every delivery from one event on (POST)."""
    _guard(request)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, SAID["bad_replay"])
        return redirect(page_url(pk))
    event = form.cleaned_data["event"]
    try:
        count = services.deliveries_replay(actor=request.user, pk=pk, event=event, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, SAID["replayed"].format(count=count, event=event))
    return redirect(page_url(pk))


@require_POST
def key_rotate(request, admin):
    """Rotate the key that signs the Security Event Tokens (POST)."""
    _guard(request)
    kid = services.signing_key_rotate(actor=request.user, request=request)
    messages.success(request, SAID["rotated"].format(kid=kid))
    return redirect("admin:accounts_subscription_changelist")


@never_cache
@require_GET
def export(request, admin):
    """Stream every event after the cursor as JSON lines (administrators; replayable from any cursor)."""
    _guard(request)
    form = ExportForm(request.GET)
    after = (form.cleaned_data.get("after") or 0) if form.is_valid() else 0
    response = StreamingHttpResponse(selectors.export_lines(after=after), content_type="application/x-ndjson")
    response["Content-Disposition"] = f'attachment; filename="events-after-{after}.jsonl"'
    return response
