"""The portal's local tables. Cognito stays the system of record."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A local shadow of a Cognito staff account: no usable password is ever stored."""

    cognito_sub = models.CharField(max_length=64, unique=True, null=True, blank=True)

    class Meta:
        db_table = "accounts_user"


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that refuses bulk updates and deletes."""

    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One write attempt: who did what to whom, with the state before and after, and how it ended."""

    SUCCESS, FAILURE, DENIED = "success", "failure", "denied"
    OUTCOMES = [(SUCCESS, "Success"), (FAILURE, "Failure"), (DENIED, "Denied")]

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=254, db_index=True, help_text="The human (email) or process.")
    actor_sub = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=254, blank=True, db_index=True)
    target_sub = models.CharField(max_length=64, blank=True, db_index=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=OUTCOMES, db_index=True)
    error = models.TextField(blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_sub", "-at"]), models.Index(fields=["action", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.target} {self.outcome}"

    def save(self, *args, **kwargs):
        """Insert once; never update."""
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        """Refuse: audit events are never deleted."""
        raise PermissionError("Audit events are append-only.")


class Portal(models.Model):
    """Carries the portal's own permissions; it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_directory", "Find and view users"),
            ("invite_user", "Invite users"),
            ("grant_access", "Grant and revoke applications"),
            ("change_role", "Change a user's role and level"),
            ("reset_password", "Reset a user's password"),
            ("sign_out_user", "Sign a user out everywhere"),
            ("disable_user", "Disable and enable users"),
            ("delete_user", "Delete users"),
            ("manage_applications", "Manage the application registry"),
            ("view_audit", "Read and export the audit log"),
        ]
