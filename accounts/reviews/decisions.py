"""Deciding review items, and applying the decisions to revoke through the same service as a person's revoke.

A decision is recorded on the item and audited (one event per item, the reviewer as actor); the items to revoke
become the rows of a bulk job, which the engine applies at its pace, with access_revoke (and its sign-out),
as the process "review". A row interrupted by throttling stays pending and is applied when the job resumes.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.directory import services as directory_services
from accounts.models import AuditEvent, BulkJob, BulkRow, DirectoryEntry, DirectoryGrant, ReviewCampaign, ReviewItem
from accounts.reviews.words import APPLIED, CHANGED, DECISION_REASON, REVIEW_ACTOR, SAID
from accounts.rules import permissions, reasons
from accounts.rules.errors import NOT_ALLOWED, InvalidInput, ServiceError

REVIEW_PROCESS = permissions.CommandActor(REVIEW_ACTOR)


@dataclass(frozen=True)
class Decided:
    """What one submission decided: how many items, and the job that applies its revocations (or None)."""

    count: int
    revoke: int
    job: BulkJob | None


def current_state(item: ReviewItem) -> str:
    """Return what changed about this access since the snapshot, from the index now ('' for nothing)."""
    entry = DirectoryEntry.objects.filter(sub=item.sub).first()
    if entry is None:
        return CHANGED["user_gone"]
    if not DirectoryGrant.objects.filter(entry=entry, application=item.application).exists():
        return CHANGED["gone"]
    return CHANGED["role"].format(role=entry.role_label) if entry.role_label != item.role else ""


def _refuse_unless_decidable(actor, campaign: ReviewCampaign, items: list[ReviewItem], wanted: int) -> None:
    """Raise when the campaign is closed or any item is unknown, decided, the actor's own or not theirs."""
    if campaign.status != ReviewCampaign.OPEN or timezone.now() >= campaign.deadline:
        raise ServiceError(SAID["after_deadline"])
    if not wanted:
        raise InvalidInput(SAID["no_items"])
    if len(items) != wanted:
        raise InvalidInput(SAID["unknown_items"])
    for item in items:
        if permissions.reviews_self(actor, item):
            raise ServiceError(SAID["self_review"].format(email=item.email))
        if not permissions.can_decide(actor, item):
            raise PermissionDenied(SAID["not_yours"])
        if item.decision:
            raise ServiceError(SAID["already_decided"].format(email=item.email, application=item.application))


def record_decision(
    actor, item: ReviewItem, decision: str, reason: str, *, request=None, action: str = "review_decide"
) -> None:
    """Record a decision on the item (on its current state) and audit it."""
    item.seen_current = current_state(item)
    item.decision, item.reason, item.decided_at = decision, reason, timezone.now()
    item.decided_by = getattr(actor, "email", "") or str(actor)
    item.applied = ReviewItem.KEPT if decision == ReviewItem.KEEP else ReviewItem.PENDING
    item.applied_message = APPLIED["kept"] if decision == ReviewItem.KEEP else ""
    item.applied_at = timezone.now() if decision == ReviewItem.KEEP else None
    item.save(
        update_fields=[
            "seen_current",
            "decision",
            "reason",
            "decided_at",
            "decided_by",
            "applied",
            "applied_message",
            "applied_at",
        ]
    )
    audit_record(
        actor=actor,
        action=action,
        target=item.email,
        target_sub=item.sub,
        before={"campaign": item.campaign_id, "application": item.application, "role": item.role},
        after={"item": item.pk, "decision": decision, "changed_since": item.seen_current},
        request=request,
        reason=reason,
    )


def revocations_queue(campaign: ReviewCampaign, items: list[ReviewItem], reason: str) -> BulkJob | None:
    """Make the job whose rows revoke these items, queued for the workers (None when there are none)."""
    if not items:
        return None
    job = BulkJob.objects.create(
        kind=BulkJob.REVIEW,
        status=BulkJob.QUEUED,
        created_by_id=campaign.created_by_id,
        action={"campaign": campaign.pk},
        reason=reason[: reasons.REASON_MAX],
        total=len(items),
    )
    BulkRow.objects.bulk_create(
        BulkRow(job=job, number=n, email=item.email, sub=item.sub, data={"item": item.pk}, plan=BulkRow.APPLY)
        for n, item in enumerate(items, start=1)
    )
    return job


def _refused(actor, campaign: ReviewCampaign, exc: Exception, request, reason: str) -> None:
    """Audit a refused submission once: denied (not the actor's) or failed (any other rule)."""
    denied = isinstance(exc, PermissionDenied)
    audit_record(
        actor=actor,
        action="review_decide",
        outcome=AuditEvent.DENIED if denied else AuditEvent.FAILURE,
        target=str(campaign),
        error=(str(exc) or NOT_ALLOWED) if denied else exc.message,
        request=request,
        reason=reason,
    )


def review_decide(
    *, actor, campaign: ReviewCampaign, item_ids: list[int], decision: str, reason: str = "", request=None
) -> Decided:
    """Decide keep or revoke on these items of the actor's worklist; queue a job revoking those to revoke."""
    try:
        text = reasons.reason_check(action="review_decide", reason=reason)
        items = list(campaign.items.filter(pk__in=set(item_ids)).order_by("email", "application"))
        _refuse_unless_decidable(actor, campaign, items, len(set(item_ids)))
    except (PermissionDenied, ServiceError) as exc:
        _refused(actor, campaign, exc, request, reason)
        raise
    who = getattr(actor, "email", "") or str(actor)
    with transaction.atomic():
        for item in items:
            record_decision(actor, item, decision, text, request=request)
        revoking = [item for item in items if decision == ReviewItem.REVOKE]
        because = f": {text}" if text else ""
        job = revocations_queue(
            campaign, revoking, DECISION_REASON.format(pk=campaign.pk, decision=decision, who=who, because=because)
        )
    return Decided(count=len(items), revoke=len(revoking), job=job)


# --- Applying ---------------------------------------------------------------------------------------


def _applied(item: ReviewItem, applied: str, message: str) -> None:
    """Record what applying the item's decision did."""
    ReviewItem.objects.filter(pk=item.pk).update(
        applied=applied, applied_message=message[:4000], applied_at=timezone.now()
    )


def item_apply(*, item_id: int, reason: str) -> tuple[str, str]:
    """Revoke one decided item with access_revoke as the process "review"; return the bulk row's outcome.

    Decided on the state now: access already gone is recorded as such. Cognito busy or down is raised (the
    engine puts the row back and the job resumes later), and the item stays pending.
    """
    item = ReviewItem.objects.get(pk=item_id)
    try:
        result = directory_services.access_revoke(
            actor=REVIEW_PROCESS, sub=item.sub, application=item.application, reason=reason
        )
    except cognito.CognitoFault:
        raise
    except (directory_services.NotInDirectory, directory_services.UserVanished):
        _applied(item, ReviewItem.ALREADY_GONE, APPLIED["user_gone"])
        return BulkRow.UNCHANGED, APPLIED["user_gone"]
    except ServiceError as exc:
        _applied(item, ReviewItem.FAILED, exc.message)
        return BulkRow.FAILED, exc.message
    if item.application not in result.revoked:
        message = APPLIED["already_gone"].format(application=item.application)
        _applied(item, ReviewItem.ALREADY_GONE, message)
        return BulkRow.UNCHANGED, message
    said = "revoked_sessions" if result.sessions_error else "revoked"
    message = APPLIED[said].format(application=item.application, error=result.sessions_error)
    _applied(item, ReviewItem.REVOKED, message)
    return BulkRow.UPDATED, message
