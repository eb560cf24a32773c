"""Delivery by the task workers: signed Standard Webhooks, retries with back-off, order per user, and the faults."""

import json
import socket
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.audit import outbox
from accounts.events import delivery, services, transport
from accounts.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription
from accounts.tasks import events_deliver_run, events_schedule
from tests.bulk import run_worker

pytestmark = pytest.mark.django_db
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test"


def emit(sub: str = "sub-1", action: str = "role_change", applications=("billing",), **after) -> OutboxEvent:
    """Write one outbox event as a portal change would."""
    return outbox.outbox_emit(
        action=action, sub=sub, applications=applications, before={"role": "a1"}, after=after, actor="test"
    )


def deliver() -> int:
    """Run one round of the delivery worker's loop."""
    return delivery.deliver_due(pool_issuer=ISSUER, budget_seconds=5)


def due_now() -> None:
    """Make every pending delivery due (as the back-off's end would)."""
    Delivery.objects.filter(status=Delivery.PENDING).update(next_at=timezone.now())


def test_a_delivery_is_a_standard_webhook_the_secret_verifies(subscriber, subscribe):
    _subscription, secret = subscribe(subscriber.url)
    event = emit(role="b2")
    assert deliver() == 1
    (received,) = subscriber.received
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "role.changed" and payload["data"]["sub"] == "sub-1"
    assert payload["data"]["after"] == {"role": "b2"} and received.headers["webhook-id"] == f"evt_{event.pk}"
    (row,) = Delivery.objects.all()
    assert (row.status, row.attempts, row.last_status) == (Delivery.DELIVERED, 1, 200)
    assert DeliveryAttempt.objects.get().status_code == 200


def test_a_failing_subscriber_is_retried_with_back_off_and_the_same_id(subscriber, subscribe, events_settings):
    subscribe(subscriber.url)
    subscriber.status = 500
    emit()
    deliver()
    (row,) = Delivery.objects.all()
    assert (row.status, row.attempts, row.last_status) == (Delivery.PENDING, 1, 500)
    assert row.next_at > timezone.now()  # waits for the back-off
    assert deliver() == 0
    due_now()
    deliver()
    row.refresh_from_db()
    assert row.attempts == 2 and delivery.backoff(2) == 2 * delivery.backoff(1)
    subscriber.status = 204
    due_now()
    deliver()
    row.refresh_from_db()
    assert row.status == Delivery.DELIVERED and row.attempts == 3
    assert len({received.headers["webhook-id"] for received in subscriber.received}) == 1


def test_a_delivery_retried_past_the_retry_time_is_marked_failed(subscriber, subscribe, events_settings):
    events_settings.PORTAL_EVENTS_RETRY_SECONDS = 1
    subscribe(subscriber.url)
    subscriber.status = 503
    emit()
    deliver()
    (row,) = Delivery.objects.all()
    assert (row.status, row.last_error) == (Delivery.FAILED, delivery.ANSWERED.format(status=503))


def test_410_disables_the_subscription(subscriber, subscribe):
    subscription, _ = subscribe(subscriber.url)
    subscriber.status = 410
    emit()
    emit()
    deliver()
    subscription.refresh_from_db()
    assert not subscription.active and subscription.disabled_reason == delivery.GONE
    assert len(subscriber.received) == 1  # the second waits (behind the first) and is not sent to a gone endpoint
    assert list(Delivery.objects.values_list("status", flat=True)) == [Delivery.FAILED, Delivery.PENDING]


def test_a_redirect_is_not_followed(subscriber, subscribe):
    subscribe(subscriber.url)
    subscriber.status, subscriber.headers = 307, {"Location": "http://169.254.169.254/latest/meta-data/"}
    emit()
    deliver()
    (row,) = Delivery.objects.all()
    assert row.status == Delivery.PENDING and row.last_error == delivery.REDIRECTED.format(status=307)
    assert len(subscriber.received) == 1


def test_a_slow_subscriber_times_out_and_is_retried(subscriber, subscribe):
    subscribe(subscriber.url)
    subscriber.delay = 1.5  # the read timeout is 1 second in tests
    emit()
    deliver()
    (row,) = Delivery.objects.all()
    assert row.status == Delivery.PENDING and row.last_error == delivery.UNREACHABLE.format(error="TimeoutError")


def test_a_subscriber_down_is_retried(subscriber, subscribe):
    subscribe(subscriber.url)
    subscriber.server.shutdown()
    subscriber.server.server_close()
    emit()
    deliver()
    (row,) = Delivery.objects.all()
    assert row.status == Delivery.PENDING and row.last_error.startswith("The subscriber could not be reached")


def test_deliveries_of_one_user_go_in_order_behind_a_failure(subscriber, subscribe):
    subscribe(subscriber.url)
    subscriber.status = 500
    first = emit(sub="u1", role="b1")
    emit(sub="u1", role="b2")
    emit(sub="u2", role="c1")
    deliver()
    assert sorted(sent(subscriber)) == [("u1", "b1"), ("u2", "c1")]  # u1's second waits behind the first
    subscriber.status = 200
    due_now()
    deliver()
    assert [role for sub, role in sent(subscriber) if sub == "u1"] == ["b1", "b1", "b2"]
    assert Delivery.objects.get(event=first).status == Delivery.DELIVERED
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.DELIVERED}


def sent(subscriber) -> list[tuple[str, str]]:
    """Return (sub, role) of every delivery the subscriber received, in order."""
    payloads = [json.loads(received.body)["data"] for received in subscriber.received]
    return [(data["sub"], data["after"]["role"]) for data in payloads]


def test_a_private_address_is_refused_at_send_time(subscriber, subscribe, events_settings):
    """DNS rebinding: the host resolved to a public address when subscribed, to a private one at the send."""
    subscribe("https://hooks.example.com/in")
    emit()
    answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 443))]
    with mock.patch("accounts.events.transport.socket.getaddrinfo", return_value=answer):
        deliver()
    (row,) = Delivery.objects.all()
    assert row.last_error == transport.PRIVATE_ADDRESS.format(host="hooks.example.com", address="10.0.0.7")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",  # http:// to a host that is not loopback
        "ftp://hooks.example.com/in",
        "https://user:pw@hooks.example.com/in",
        "https://hooks.example.com:99999/in",
        "not a url",
    ],
)
def test_a_subscription_url_that_is_not_allowed_is_refused(admin_user, events_settings, url):
    with pytest.raises(services.InvalidInput) as refused:
        services.subscription_create(actor=admin_user, application="billing", url=url, types=[])
    assert refused.value.message == transport.BAD_URL
    assert not Subscription.objects.exists()


def test_http_to_loopback_needs_the_setting(admin_user, settings):
    settings.PORTAL_EVENTS_ALLOW_HTTP_LOOPBACK = False
    with pytest.raises(services.InvalidInput):
        services.subscription_create(actor=admin_user, application="billing", url="http://127.0.0.1:9801/", types=[])
    with pytest.raises(transport.Refused):
        transport.resolve("127.0.0.1", 443)


def test_link_local_is_refused_even_with_loopback_allowed(events_settings):
    with pytest.raises(transport.Refused):
        transport.resolve("169.254.169.254", 80)


def test_a_rotated_secret_signs_with_both_during_the_overlap(subscriber, subscribe, admin_user):
    subscription, old = subscribe(subscriber.url)
    new = services.subscription_rotate(actor=admin_user, pk=subscription.pk)
    emit()
    deliver()
    (received,) = subscriber.received
    assert Webhook(old).verify(received.body, received.headers) and Webhook(new).verify(received.body, received.headers)
    Subscription.objects.filter(pk=subscription.pk).update(previous_until=timezone.now() - timedelta(seconds=1))
    emit(sub="other")
    deliver()
    assert len(subscriber.received[1].headers["webhook-signature"].split(" ")) == 1


def test_resend_and_replay_from_here(subscriber, subscribe, admin_user):
    subscription, _ = subscribe(subscriber.url)
    first, second = emit(sub="u1"), emit(sub="u2")
    deliver()
    one = Delivery.objects.get(event=first)
    services.delivery_resend(actor=admin_user, pk=subscription.pk, delivery=one.pk)
    deliver()
    assert [r.headers["webhook-id"] for r in subscriber.received][-1] == f"evt_{first.pk}"
    assert services.deliveries_replay(actor=admin_user, pk=subscription.pk, event=first.pk) == 2
    deliver()
    # The senders run in parallel threads, so the two replayed events arrive in either order.
    assert sorted(r.headers["webhook-id"] for r in subscriber.received[-2:]) == sorted(
        [f"evt_{first.pk}", f"evt_{second.pk}"]
    )


def test_the_worker_task_delivers_and_queues_the_next_retry(subscriber, subscribe):
    subscribe(subscriber.url)
    subscriber.status = 500
    emit()
    assert events_schedule()
    run_worker(max_tasks=1)
    assert len(subscriber.received) == 1
    assert events_schedule() is False  # the run queued the retry itself, for its back-off
    assert events_deliver_run.module_path.endswith("events_deliver_run")


def test_a_worker_that_died_holding_a_delivery_leaves_it_to_the_next(subscriber, subscribe):
    subscribe(subscriber.url)
    emit()
    (claimed,) = delivery.deliveries_claim()  # a worker took it, then died before sending
    assert deliver() == 0
    Delivery.objects.filter(pk=claimed.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert deliver() == 1 and Delivery.objects.get().status == Delivery.DELIVERED


def test_the_database_going_away_after_the_send_loses_no_event(subscriber, subscribe):
    """The send went out but its outcome could not be recorded: the delivery comes again, with the same id."""
    subscribe(subscriber.url)
    emit()
    with (
        mock.patch("accounts.events.delivery.attempt_record", side_effect=OperationalError("database gone")),
        pytest.raises(OperationalError),
    ):
        deliver()
    (row,) = Delivery.objects.all()
    assert row.status == Delivery.PENDING and row.lease_until is not None
    Delivery.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # the lease ran out
    deliver()
    assert Delivery.objects.get().status == Delivery.DELIVERED
    assert [r.headers["webhook-id"] for r in subscriber.received] == [f"evt_{row.event_id}"] * 2


def test_the_database_going_away_before_the_send_sends_nothing_and_keeps_the_event(subscriber, subscribe):
    subscribe(subscriber.url)
    emit()
    with (
        mock.patch("accounts.events.delivery.deliveries_claim", side_effect=OperationalError("database gone")),
        pytest.raises(OperationalError),
    ):
        deliver()
    assert not subscriber.received and Delivery.objects.get().status == Delivery.PENDING
    deliver()
    assert Delivery.objects.get().status == Delivery.DELIVERED
