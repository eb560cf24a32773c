"""The portal's local tables. Cognito stays the system of record."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from accounts.rules import roles
from accounts.rules.reasons import REASON_MAX


class User(AbstractUser):
    """A local shadow of a Cognito staff account: no usable password is ever stored."""

    cognito_sub = models.CharField(max_length=64, unique=True, null=True, blank=True)
    staff_checked_at = models.DateTimeField(
        default=timezone.now, help_text="When the staff standing was last read live from Cognito."
    )
    owned_applications = models.JSONField(
        default=list, blank=True, help_text="The applications they own, as last read live from their Cognito groups."
    )

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
    reason = models.CharField(max_length=REASON_MAX, blank=True, help_text="The reason or ticket the actor gave.")
    applications = models.CharField(
        max_length=2048, blank=True, help_text="The applications the attempt concerned, as ' billing crm ' (owners')."
    )

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

    def __str__(self) -> str:
        return "the portal"


class DirectoryEntry(models.Model):
    """One pool user as last seen in Cognito: the index the directory lists, searches and filters."""

    NONE, SEVERAL = roles.NO_ROLE, roles.SEVERAL

    sub = models.CharField(max_length=64, primary_key=True)
    username = models.CharField(max_length=128)
    email = models.CharField(max_length=254, help_text="Lower-case, as the pool compares it.")
    email_verified = models.BooleanField(default=False)
    name = models.CharField(max_length=256, blank=True)
    name_key = models.CharField(max_length=256, blank=True, help_text="The name case-folded, for prefix search.")
    status = models.CharField(max_length=32)
    enabled = models.BooleanField(default=True)
    role = models.CharField(max_length=16, blank=True, help_text="The role held; '' none, '*' several (drift).")
    level = models.PositiveSmallIntegerField(default=0)
    staff = models.CharField(max_length=16, blank=True, help_text="'admin' or 'helpdesk' for staff accounts.")
    created = models.DateTimeField(null=True, blank=True)
    modified = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(help_text="When this row was last confirmed against Cognito.")

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        ordering = ["email"]
        indexes = [
            # varchar_pattern_ops lets PostgreSQL use the index for LIKE 'prefix%'; other databases ignore it.
            models.Index(fields=["email"], name="directory_email", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name_key"], name="directory_name", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["role", "level", "email"], name="directory_role"),
            models.Index(fields=["status", "email"], name="directory_status"),
            models.Index(fields=["enabled", "email"], name="directory_enabled"),
            models.Index(fields=["staff", "email"], name="directory_staff"),
            models.Index(fields=["modified"], name="directory_modified"),
            models.Index(fields=["created"], name="directory_created"),
            models.Index(fields=["synced_at"], name="directory_synced"),
        ]

    def __str__(self) -> str:
        return self.email or self.sub

    @property
    def role_key(self) -> str:
        """Return the role as one comparable word: 'b2', 'none' or 'several'."""
        return f"{self.role}{self.level}" if self.role not in roles.ROLE_WORDS else roles.role_word(self.role)

    @property
    def role_label(self) -> str:
        """Return the role for people: 'Editor · Standard (B2)' (or 'B2' unnamed), 'None' or 'Several (drift)'."""
        return roles.index_label(self.role, self.level)


class DirectoryGrant(models.Model):
    """One application a directory entry holds (membership of its Cognito group)."""

    entry = models.ForeignKey(DirectoryEntry, on_delete=models.CASCADE, related_name="grants", db_index=False)
    application = models.CharField(max_length=48)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "application"], name="directory_grant_unique")]
        indexes = [models.Index(fields=["application", "entry"], name="directory_grant_app")]

    def __str__(self) -> str:
        return f"{self.entry_id} {self.application}"


class DirectorySync(models.Model):
    """One complete run of the directory sync: what it found and changed."""

    started = models.DateTimeField(db_index=True)
    finished = models.DateTimeField()
    source = models.CharField(max_length=254, help_text="Who or what ran it.")
    users = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Rows refreshed by someone else during the run.")
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started"]
        get_latest_by = "started"

    def __str__(self) -> str:
        return f"sync {self.started:%Y-%m-%d %H:%M:%S}"


class SyncState(models.Model):
    """The directory sync's one row: the lease that lets one run at a time on any machine, and its progress."""

    holder = models.CharField(max_length=128, blank=True, help_text="The worker running a sync; '' when none.")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="The holder is presumed dead after this.")
    started_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveIntegerField(default=0, help_text="Cognito calls the running sync has made so far.")
    expected_calls = models.PositiveIntegerField(default=0, help_text="Calls the last complete sync made.")
    requested_by = models.CharField(max_length=254, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True, help_text="When “Refresh now” last queued a sync.")
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, help_text="How the last run ended.")
    error = models.TextField(blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"sync held by {self.holder}" if self.holder else "sync idle"


class Application(models.Model):
    """One application of the registry, mirroring its Cognito group `<prefix><name>` (Cognito stays the record).

    An application group is told apart from a staff group by PORTAL_APPLICATION_GROUP_PREFIX: settings refuse
    staff groups that start with it, and only groups that do are applications.
    """

    name = models.CharField(max_length=48, unique=True, help_text="Lower-case letters, digits and '-'.")
    description = models.CharField(max_length=2048, blank=True)
    role_arn = models.CharField("IAM role ARN", max_length=2048, blank=True)
    precedence = models.PositiveIntegerField(null=True, blank=True)
    client_id = models.CharField(
        "app client ID",
        max_length=128,
        blank=True,
        help_text="The application's own Cognito app client: its tokens count for it alone.",
    )
    synced_at = models.DateTimeField(help_text="When the portal last wrote or read the group.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """An application's key to the access-check API: only its id and a SHA-256 digest are stored."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="api_keys")
    key_id = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.application_id} {self.key_id}"

    @property
    def active(self) -> bool:
        """Return True until the key is revoked."""
        return self.revoked_at is None


class BulkJob(models.Model):
    """One piece of bulk work: a CSV import or an action on a selection of users, applied row by row."""

    IMPORT, ACTION, REVIEW = "import", "action", "review"
    KINDS = [(IMPORT, "CSV import"), (ACTION, "Bulk action"), (REVIEW, "Access review revocations")]
    READING, REFUSED, PREVIEW, QUEUED, RUNNING, DONE, INTERRUPTED, CANCELLED = (
        "reading",
        "refused",
        "preview",
        "queued",
        "running",
        "done",
        "interrupted",
        "cancelled",
    )
    STATUSES = [
        (READING, "Reading the file (nothing applied)"),
        (REFUSED, "File refused (nothing applied)"),
        (PREVIEW, "Preview (nothing applied)"),
        (QUEUED, "Queued"),
        (RUNNING, "Running"),
        (DONE, "Done"),
        (INTERRUPTED, "Interrupted"),
        (CANCELLED, "Cancelled"),
    ]

    kind = models.CharField(max_length=16, choices=KINDS)
    status = models.CharField(max_length=16, choices=STATUSES, default=PREVIEW, db_index=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="bulk_jobs")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="When a worker last finished a row.")
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.JSONField(default=dict, blank=True, help_text="What a bulk action does to each user.")
    reason = models.CharField(
        max_length=REASON_MAX, blank=True, help_text="The reason or ticket, audited with every row."
    )
    total = models.PositiveIntegerField(default=0)
    lines_total = models.PositiveIntegerField(default=0, help_text="The uploaded file's lines.")
    lines_read = models.PositiveIntegerField(default=0, help_text="The lines planned so far.")
    error = models.TextField(blank=True, help_text="Why the job stopped before the end (or the file was refused).")

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class BulkFileChunk(models.Model):
    """One piece of an uploaded import file, kept in the database until a worker has read it."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["job", "number"]
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="bulk_chunk_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.number}"


class BulkRow(models.Model):
    """One user of a bulk job: what the preview planned, and what applying it did."""

    PENDING, CLAIMED, DONE, SKIPPED = "pending", "claimed", "done", "skipped"
    CREATE, UPDATE, UNCHANGED, ERROR, APPLY = "create", "update", "unchanged", "error", "apply"
    CREATED, UPDATED, FAILED = "created", "updated", "failed"

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField(help_text="The line of the file, or the place in the selection.")
    email = models.CharField(max_length=254, blank=True)
    sub = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    plan = models.CharField(max_length=16)
    detail = models.TextField(blank=True, help_text="What the preview found: the changes, or the error.")
    state = models.CharField(max_length=16, default=PENDING)
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="bulk_row_unique")]
        indexes = [
            models.Index(fields=["job", "state", "number"], name="bulk_row_state"),
            models.Index(fields=["job", "outcome"], name="bulk_row_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.number} {self.email}"


class QuotaBucket(models.Model):
    """One Cognito quota category's token bucket, shared by every worker and machine (accounts/cognito/quotas.py).

    Times are seconds since the epoch (the database server's clock on PostgreSQL); `factor` is the share of the
    category's rate in use after throttling (1 = all of it), recovered additively, halved on a throttle.
    """

    category = models.CharField(max_length=40, primary_key=True)
    next_at = models.FloatField()
    factor = models.FloatField(default=1.0)
    updated_at = models.FloatField()
    decreased_at = models.FloatField(default=0.0)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.category} at {self.factor:.2f} of its rate"


class Revocation(models.Model):
    """'Tokens of this user issued before `not_before` are void': written whenever the portal signs them out.

    The access-check API refuses such tokens, and the applications follow these rows as a feed, in `id` order.
    """

    sub = models.CharField(max_length=64)
    not_before = models.DateTimeField(help_text="Tokens issued (iat) before this moment are void.")
    reason = models.CharField(max_length=64)
    recorded_at = models.DateTimeField(auto_now_add=True)
    # An end notice (scope "end") is published when an end is set, ahead of it: from `not_before` on, the
    # user may not use `application` (or, for "" , holds only the fallback role); `cancelled` withdraws it.
    scope = models.CharField(max_length=8, blank=True, help_text="'' a revocation; 'end' an end notice.")
    application = models.CharField(max_length=48, blank=True)
    fallback_role = models.CharField(max_length=16, blank=True)
    fallback_level = models.PositiveSmallIntegerField(default=0)
    cancelled = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        default_permissions = ()
        indexes = [models.Index(fields=["sub", "-not_before"], name="revocation_sub")]

    def __str__(self) -> str:
        return f"{self.sub} before {self.not_before:%Y-%m-%d %H:%M:%S} ({self.reason})"


class ApplicationUse(models.Model):
    """When the access-check API last allowed this user into this application (written at most once a minute)."""

    sub = models.CharField(max_length=64)
    application = models.CharField(max_length=48)
    last_at = models.DateTimeField(help_text="The last allowed access check, to the minute.")

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["sub", "application"], name="application_use_unique")]
        indexes = [models.Index(fields=["last_at", "sub"], name="application_use_last")]

    def __str__(self) -> str:
        return f"{self.sub} {self.application} {self.last_at:%Y-%m-%d %H:%M:%S}"


class AccessEnd(models.Model):
    """An end set on access: a grant that ends, or a temporary role raise that returns to the previous role.

    The access-check API and the revocation feed honour it at `ends_at`; the workers' sweep then makes
    Cognito match and marks the row ended. Times are stored in UTC.
    """

    GRANT, RAISE = "grant", "raise"
    KINDS = [(GRANT, "Grant with an end"), (RAISE, "Temporary role raise")]
    OPEN, ENDED, CLOSED = "open", "ended", "closed"
    STATES = [(OPEN, "Open"), (ENDED, "Ended (expired)"), (CLOSED, "Closed before its end")]

    kind = models.CharField(max_length=8, choices=KINDS)
    sub = models.CharField(max_length=64)
    application = models.CharField(max_length=48, blank=True, help_text="The grant's application ('' for a raise).")
    ends_at = models.DateTimeField()
    granted_by = models.CharField(max_length=254, help_text="Who set the end (email or process).")
    granted_by_sub = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    role = models.CharField(max_length=16, blank=True, help_text="The raised role.")
    level = models.PositiveSmallIntegerField(default=0)
    previous_role = models.CharField(max_length=16, blank=True, help_text="The role the raise returns to.")
    previous_level = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=8, choices=STATES, default=OPEN)
    ended_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=254, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Sweep attempts that did not finish.")
    late_reason = models.TextField(blank=True, help_text="Why the sweep has not ended it yet, past its end.")
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the granter was told it is ending.")

    class Meta:
        ordering = ["ends_at", "id"]
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "sub", "application"], condition=models.Q(state="open"), name="access_end_open"
            )
        ]
        indexes = [
            models.Index(fields=["state", "ends_at"], name="access_end_due"),
            models.Index(fields=["sub", "state"], name="access_end_sub"),
        ]

    def __str__(self) -> str:
        what = self.application or f"raise to {self.raised_label}"
        return f"{self.sub} {what} until {self.ends_at:%Y-%m-%d %H:%M} ({self.state})"

    @property
    def raised_label(self) -> str:
        """Return the raised role for people: 'A3'."""
        return f"{self.role.upper()}{self.level}"

    @property
    def returns_to_label(self) -> str:
        """Return the role a raise returns to, for people: 'B2', or 'None'."""
        return f"{self.previous_role.upper()}{self.previous_level}" if self.previous_level else "None"


class OutboxEvent(models.Model):
    """One change that affects applications, written in the transaction of its audit event; `id` is the cursor."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    type = models.CharField(max_length=64, help_text="The event type, e.g. 'user.role_changed'.")
    action = models.CharField(max_length=64, help_text="The audit action it comes from.")
    sub = models.CharField(max_length=64, help_text="The user's Cognito sub.")
    applications = models.JSONField(default=list, blank=True, help_text="The applications the change affects.")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=254, blank=True)
    audit_event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["id"]
        default_permissions = ()
        indexes = [models.Index(fields=["sub", "id"], name="outbox_sub")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type} {self.sub}"


class Subscription(models.Model):
    """An application's endpoint for events: signed Standard Webhooks, or Security Event Tokens pushed to it."""

    WEBHOOK, SET, POLL = "webhook", "set", "poll"
    FORMATS = [
        (WEBHOOK, "Standard Webhooks (JSON, HMAC-signed), pushed"),
        (SET, "Security Event Tokens, pushed (RFC 8935)"),
        (POLL, "Security Event Tokens, polled by the application (RFC 8936)"),
    ]

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="subscriptions")
    url = models.CharField(max_length=2048, blank=True, help_text="Empty for a polled subscription.")
    format = models.CharField(max_length=16, choices=FORMATS, default=WEBHOOK)
    event_types = models.JSONField(default=list, help_text="The event types wanted.")
    secret = models.CharField(max_length=128, help_text="The signing secret (whsec_...), shown once.")
    previous_secret = models.CharField(
        max_length=128, blank=True, help_text="Still signed with until the overlap ends."
    )
    previous_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=254, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254)

    class Meta:
        ordering = ["application", "id"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.application_id} {self.url}"


class Delivery(models.Model):
    """One event for one subscription: sent at least once, retried with back-off, then marked failed."""

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    sub = models.CharField(max_length=64, help_text="The event's user: deliveries of one user go in order.")
    status = models.CharField(max_length=16, default=PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A worker is sending it until then.")
    created = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        default_permissions = ()
        indexes = [
            models.Index(fields=["status", "next_at"], name="delivery_due"),
            models.Index(fields=["subscription", "sub", "status", "id"], name="delivery_order"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}:{self.event_id} {self.status}"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: when, the answer's status code, how long it took, what went wrong."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"


class SigningKey(models.Model):
    """The portal's own RSA key for Security Event Tokens; its public half is in the JWKS while not retired."""

    kid = models.CharField(max_length=64, unique=True)
    private_pem = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="No longer signs; published until then + a day.")

    class Meta:
        ordering = ["-created", "-id"]
        default_permissions = ()

    def __str__(self) -> str:
        return self.kid


class ReviewCampaign(models.Model):
    """An access review: which applications, who reviews, until when, and what becomes of unanswered items."""

    REVOKE, KEEP = "revoke", "keep"
    UNANSWERED = [(REVOKE, "Revoke the access"), (KEEP, "Keep the access")]
    OPEN, CLOSED = "open", "closed"
    STATUSES = [(OPEN, "Open"), (CLOSED, "Closed (deadline passed)")]

    name = models.CharField(max_length=120)
    applications = models.JSONField(default=list, help_text="The applications under review.")
    owners_review = models.BooleanField(default=False, help_text="Each application's owners review its items.")
    reviewers = models.ManyToManyField(User, related_name="review_campaigns", blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="campaigns_started")
    created_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField(db_index=True)
    unanswered = models.CharField(max_length=8, choices=UNANSWERED)
    status = models.CharField(max_length=8, choices=STATUSES, default=OPEN, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.JSONField(default=list, blank=True, help_text="The reminder hours already sent.")
    reason = models.CharField(max_length=REASON_MAX, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"Access review #{self.pk} {self.name}"


class ReviewItem(models.Model):
    """One access under review: the snapshot taken at the start, the decision, and what applying it did."""

    KEEP, REVOKE = "keep", "revoke"
    DECISIONS = [(KEEP, "Keep"), (REVOKE, "Revoke")]
    PENDING, REVOKED, ALREADY_GONE, FAILED, KEPT = "pending", "revoked", "already_gone", "failed", "kept"
    APPLIED = [
        (PENDING, "Being applied"),
        (REVOKED, "Revoked, signed out"),
        (ALREADY_GONE, "Access already gone"),
        (FAILED, "Failed"),
        (KEPT, "Kept"),
    ]

    campaign = models.ForeignKey(ReviewCampaign, on_delete=models.CASCADE, related_name="items")
    sub = models.CharField(max_length=64)
    email = models.CharField(max_length=254)
    application = models.CharField(max_length=48)
    role = models.CharField(max_length=64, blank=True, help_text="The role held at the snapshot, for people.")
    granted_at = models.DateTimeField(null=True, blank=True)
    granted_by = models.CharField(max_length=254, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="review_items",
        help_text="None: the administrators review it.",
    )
    decision = models.CharField(max_length=8, choices=DECISIONS, blank=True)
    decided_by = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=REASON_MAX, blank=True)
    seen_current = models.CharField(max_length=120, blank=True, help_text="What had changed when it was decided.")
    applied = models.CharField(max_length=16, choices=APPLIED, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_message = models.TextField(blank=True)

    class Meta:
        ordering = ["campaign", "email", "application"]
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["campaign", "sub", "application"], name="review_item_unique")]
        indexes = [models.Index(fields=["campaign", "reviewer", "decision"], name="review_item_worklist")]

    def __str__(self) -> str:
        return f"{self.email} {self.application}"
