"""Keep the staff groups' permissions in step with permissions.py after every migrate."""

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def staff_groups_after_migrate(sender, app_config=None, **kwargs):
    """Create or update the staff groups once the accounts app is migrated."""
    if app_config is not None and app_config.label == "accounts":
        from accounts.rules.permissions import ensure_staff_groups

        ensure_staff_groups()
