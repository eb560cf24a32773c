"""The outbox: each change that affects applications is an event written in the transaction of its audit event."""

from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone

from accounts import cognito
from accounts.audit import outbox
from accounts.audit.record import audit_record
from accounts.directory import services
from accounts.directory import sync as directory_sync
from accounts.models import AuditEvent, Delivery, OutboxEvent
from tests.support.staff import index_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(make_cognito_user):
    """An A1 user of billing and crm, in the index."""
    user = make_cognito_user("rita@example.com", role=("a", 1), apps=["billing", "crm"])
    index_user(user)
    return user


def test_every_action_named_in_the_contract_has_an_event_type():
    actions = {"access_grant", "access_revoke", "access_set", "role_change", "user_disable", "user_enable"}
    actions |= {"user_delete", "user_sign_out", "directory_sync", "access_extend", "access_expire"}
    actions |= {"role_raise", "role_raise_end"}
    assert set(outbox.EVENT_TYPES) == actions


def test_a_role_change_writes_its_event_with_the_audit_event(admin_user, rita):
    services.role_change(actor=admin_user, sub=rita.sub, role="b", level=2, shown="a1")
    (event,) = OutboxEvent.objects.all()
    audit = AuditEvent.objects.get(action="role_change")
    assert (event.type, event.sub, event.audit_event_id) == ("role.changed", rita.sub, audit.pk)
    assert event.applications == ["billing", "crm"]
    assert (event.before, event.after["role"]) == ({"role": "a1"}, "b2")


def test_a_revoke_names_only_the_application_revoked(admin_user, rita):
    services.access_revoke(actor=admin_user, sub=rita.sub, application="crm")
    (event,) = OutboxEvent.objects.all()
    assert (event.type, event.applications) == ("access.revoked", ["crm"])


def test_disable_sign_out_and_delete_each_write_their_event(admin_user, rita):
    services.user_disable(actor=admin_user, sub=rita.sub)
    services.user_enable(actor=admin_user, sub=rita.sub)
    services.user_sign_out(actor=admin_user, sub=rita.sub)
    services.user_delete(actor=admin_user, sub=rita.sub, confirmation="rita@example.com")
    types = list(OutboxEvent.objects.values_list("type", flat=True))
    assert types == ["user.disabled", "user.enabled", "user.signed_out", "user.deleted"]
    assert OutboxEvent.objects.get(type="user.deleted").applications == ["billing", "crm"]


def test_nothing_changed_writes_no_event(admin_user, rita):
    services.role_change(actor=admin_user, sub=rita.sub, role="a", level=1, shown="a1")  # the same role
    services.access_grant(actor=admin_user, sub=rita.sub, application="billing")  # already held
    assert not OutboxEvent.objects.exists()


def test_a_refused_or_denied_attempt_writes_no_event(helpdesk_user, admin_user, rita, make_cognito_user):
    with pytest.raises(services.StaleRole):
        services.role_change(actor=admin_user, sub=rita.sub, role="b", level=1, shown="c3")
    other_admin = make_cognito_user("root@example.com", staff="admin")
    index_user(other_admin)
    with pytest.raises(services.PermissionDenied):
        services.user_disable(actor=helpdesk_user, sub=other_admin.sub)
    assert AuditEvent.objects.exclude(outcome=AuditEvent.SUCCESS).count() == 2
    assert not OutboxEvent.objects.exists()


def test_an_event_gets_one_delivery_per_subscription_that_wants_it(admin_user, rita, subscribe):
    everything, _ = subscribe("http://127.0.0.1:9899/all")
    roles_only, _ = subscribe("http://127.0.0.1:9899/roles", types=["role.changed"])
    subscribe("http://127.0.0.1:9899/crm", application="crm", types=["user.disabled"])
    services.role_change(actor=admin_user, sub=rita.sub, role="c", level=1, shown="a1")
    services.access_revoke(actor=admin_user, sub=rita.sub, application="billing")
    services.role_change(actor=admin_user, sub=rita.sub, role="c", level=2, shown="c1")  # crm's alone now
    wanted = sorted(Delivery.objects.values_list("subscription_id", "event__type"))
    assert wanted == sorted(
        [(everything.pk, "access.revoked"), (everything.pk, "role.changed"), (roles_only.pk, "role.changed")]
    )


def test_the_database_failing_at_the_audit_write_loses_the_event_with_the_change_record(admin_user, rita):
    """The event and its audit event share one transaction: neither is stored alone."""
    with (
        mock.patch("accounts.audit.outbox.OutboxEvent.objects.create", side_effect=DatabaseError("gone")),
        pytest.raises(DatabaseError),
    ):
        services.user_sign_out(actor=admin_user, sub=rita.sub)
    assert not AuditEvent.objects.filter(action="user_sign_out", outcome=AuditEvent.SUCCESS).exists()
    assert not OutboxEvent.objects.exists()


def test_the_sync_emits_a_change_found_outside_the_portal(rita):
    directory_sync.run(source="test")
    assert not OutboxEvent.objects.exists()  # nothing changed since the index was written
    cognito.user_remove_from_group("rita@example.com", "app-crm")
    cognito.user_update_attributes(rita.sub, {"custom:role_a": "0", "custom:role_b": "3"})
    directory_sync.run(source="test")
    (event,) = OutboxEvent.objects.all()
    assert (event.type, event.actor, event.audit_event_id) == ("directory.changed", "directory sync", None)
    assert event.before == {"role": "a1", "enabled": True, "applications": ["billing", "crm"]}
    assert event.after == {"role": "b3", "enabled": True, "applications": ["billing"]}


def test_the_sync_emits_a_user_deleted_outside_the_portal(rita):
    cognito.user_delete(rita.sub)
    before = timezone.now()
    directory_sync.run(source="test")
    (event,) = OutboxEvent.objects.all()
    assert event.after == {"deleted": True, "applications": []} and event.at >= before
    assert event.applications == ["billing", "crm"]


def test_an_expiry_names_its_application_or_else_the_users_applications(admin_user, rita):
    """h15's actions say which grant ended in their own words: a named application, or nothing to go by."""
    audit_record(actor="expiry", action="access_expire", target_sub=rita.sub, before={"application": "crm"})
    audit_record(actor="expiry", action="access_extend", target_sub=rita.sub, after={"until": "2027-01-01"})
    assert list(OutboxEvent.objects.values_list("type", "applications")) == [
        ("access.expired", ["crm"]),
        ("access.extended", ["billing", "crm"]),
    ]
