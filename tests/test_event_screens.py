"""The subscription screens: the four personas, the secret shown once, the delivery log, resend and replay."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from accounts.audit import outbox
from accounts.events import services
from accounts.models import AuditEvent, Delivery, Subscription

pytestmark = pytest.mark.django_db
OK, FOUND, FORBIDDEN, BAD = HTTPStatus.OK, HTTPStatus.FOUND, HTTPStatus.FORBIDDEN, HTTPStatus.BAD_REQUEST
HOOK = "http://127.0.0.1:9899/hook"


def url(name: str, *args) -> str:
    """Return a subscription admin URL."""
    return reverse(f"admin:accounts_subscription_{name}", args=args)


@pytest.fixture
def hook(admin_user, events_settings) -> Subscription:
    """billing's subscription, with one event delivered to it."""
    subscription, _ = services.subscription_create(actor=admin_user, application="billing", url=HOOK, types=[])
    outbox.outbox_emit(action="role_change", sub="s1", applications=["billing"], before={}, after={}, actor="t")
    return subscription


def _delivery() -> list:
    return [Delivery.objects.get().pk]


VIEWS = {
    "list": ("get", lambda s: url("changelist"), None, OK),
    "add form": ("get", lambda s: url("add"), None, OK),
    "create": ("post", lambda s: url("add"), {"application": "crm", "format": "webhook", "url": HOOK}, OK),
    "page": ("get", lambda s: url("change", s.pk), None, OK),
    "rotate": ("post", lambda s: url("rotate", s.pk), {}, OK),
    "pause": ("post", lambda s: url("pause", s.pk), {}, FOUND),
    "resend": ("post", lambda s: url("resend", s.pk, *_delivery()), {}, FOUND),
    "replay": ("post", lambda s: url("replay", s.pk), {"event": "1"}, FOUND),
    "remove": ("post", lambda s: url("remove", s.pk), {}, FOUND),
    "key rotate": ("post", lambda s: url("key_rotate"), {}, FOUND),
    "export": ("get", lambda s: url("export"), None, OK),
}


@pytest.mark.parametrize("persona", ["anonymous", "nonstaff", "helpdesk", "admin"])
@pytest.mark.parametrize("view", list(VIEWS))
def test_every_subscription_view_against_every_persona(view, persona, persona_client, hook):
    method, target, data, for_admin = VIEWS[view]
    before = list(Subscription.objects.values_list("pk", "secret", "active"))
    response = getattr(persona_client, method)(target(hook), data or {})
    expected = {"anonymous": FOUND, "nonstaff": FORBIDDEN, "helpdesk": FORBIDDEN, "admin": for_admin}[persona]
    assert response.status_code == expected
    if persona != "admin":
        assert list(Subscription.objects.values_list("pk", "secret", "active")) == before


def test_writes_are_not_made_on_get(admin_client, hook):
    for name in ("rotate", "pause", "remove", "replay"):
        assert admin_client.get(url(name, hook.pk)).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert Subscription.objects.get().active


def test_the_secret_is_shown_once_and_verifies(admin_client, events_settings):
    form = {"application": "crm", "format": "webhook", "url": HOOK, "types": ["role.changed"]}
    page = admin_client.post(url("add"), form).content.decode()
    created = Subscription.objects.get()
    assert created.secret in page and created.event_types == ["role.changed"]
    assert created.secret not in admin_client.get(url("change", created.pk)).content.decode()
    assert AuditEvent.objects.get(action="subscription_create").after["url"] == HOOK


def test_a_refused_url_is_said_and_nothing_is_made(admin_client, settings):
    settings.PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK = False
    response = admin_client.post(url("add"), {"application": "crm", "format": "webhook", "url": HOOK})
    assert response.status_code == BAD and "https://" in response.content.decode()
    assert not Subscription.objects.exists()
    assert AuditEvent.objects.get(action="subscription_create").outcome == AuditEvent.FAILURE


def test_the_delivery_log_shows_the_event_and_its_state(admin_client, hook):
    page = admin_client.get(url("change", hook.pk)).content.decode()
    assert "role.changed" in page and "pending" in page and "Replay from here" in page


def test_replaying_an_event_of_another_subscription_is_refused(admin_client, hook):
    response = admin_client.post(url("replay", hook.pk), {"event": "999"}, follow=True)
    assert services.SAID["unknown_event"].format(event=999) in response.content.decode()
