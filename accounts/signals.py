"""Keep the staff groups' permissions in step with permissions.py after every migrate; queue event deliveries."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver

from accounts.audit.outbox import events_written


@receiver(post_migrate)
def staff_groups_after_migrate(sender, app_config=None, **kwargs):
    """Create or update the staff groups once the accounts app is migrated."""
    if app_config is not None and app_config.label == "accounts":
        from accounts.rules.permissions import ensure_staff_groups

        ensure_staff_groups()


@receiver(events_written)
def deliveries_queue(sender, **kwargs):
    """Queue a delivery run once a transaction that wrote events has committed (never sent from a request)."""
    from accounts.tasks import events_schedule

    events_schedule()
