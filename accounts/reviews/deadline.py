"""What the workers do for open campaigns, at every tick: reviewers who lost their standing, reminders, the deadline.

Every step is decided on the clock and the database, never on a tick having run before: after a downtime the
next tick closes every campaign whose deadline passed, sends the reminders due, and resumes interrupted work.
Closing is one conditional update, so two workers never close the same campaign twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from accounts.audit.record import audit_record
from accounts.models import BulkJob, ReviewCampaign, ReviewItem, User
from accounts.reviews import campaigns, decisions, owners
from accounts.reviews.words import DEADLINE_REASON, REMINDER_BODY, REMINDER_SUBJECT, REVIEW_ACTOR, UNANSWERED_SAID

logger = logging.getLogger("accounts.reviews")


def _undecided(campaign: ReviewCampaign):
    """Return the campaign's items nobody decided yet."""
    return campaign.items.filter(decision="")


# --- Reviewers who lost their standing ----------------------------------------------------------------------


def _still_reviews(user: User, standings: dict[str, str], applications: set[str]) -> bool:
    """Return True while the user may review: staff standing now, or owning every application they review."""
    if user.is_active and user.cognito_sub in standings:
        return True
    return bool(applications) and all(owners.still_owner(user, app) for app in applications)


def reviewers_recheck(campaign: ReviewCampaign, standings: dict[str, str]) -> int:
    """Move the undecided items of reviewers who lost their standing to the administrators; return how many."""
    moved = 0
    held = _undecided(campaign).exclude(reviewer=None).values_list("reviewer_id", "application")
    per_reviewer: dict[int, set[str]] = {}
    for reviewer_id, application in held:
        per_reviewer.setdefault(reviewer_id, set()).add(application)
    for user in User.objects.filter(pk__in=per_reviewer):
        if _still_reviews(user, standings, per_reviewer[user.pk]):
            continue
        with transaction.atomic():
            count = _undecided(campaign).filter(reviewer=user).update(reviewer=None)
            audit_record(
                actor=REVIEW_ACTOR,
                action="review_reassign",
                target=user.email,
                target_sub=user.cognito_sub or "",
                before={"campaign": campaign.pk, "reviewer": user.email},
                after={"campaign": campaign.pk, "reviewer": "administrators", "items": count},
            )
        moved += count
    return moved


# --- Reminders ----------------------------------------------------------------------------------------------


def reminders_due(campaign: ReviewCampaign, now) -> list[int]:
    """Return the configured reminder hours whose moment has come and that were not sent yet."""
    return [
        hours
        for hours in settings.PORTAL_REVIEW_REMINDER_HOURS
        if hours not in campaign.reminders_sent and now >= campaign.deadline - timedelta(hours=hours)
    ]


def _recipients(campaign: ReviewCampaign) -> dict[str, int]:
    """Return {email: undecided items} of each reviewer (the administrators' items go to who started it)."""
    counts: dict[str, int] = {}
    for email, count in _undecided(campaign).values_list("reviewer__email").annotate(n=Count("id")).order_by():
        address = email or campaign.created_by.email
        if address:
            counts[address] = counts.get(address, 0) + count
    return counts


def reminders_send(campaign: ReviewCampaign, now) -> int:
    """Send the due reminder (one email per reviewer with undecided items, however many are due); return emails."""
    due = reminders_due(campaign, now)
    if not due or now >= campaign.deadline:
        return 0
    if not ReviewCampaign.objects.filter(pk=campaign.pk, reminders_sent=campaign.reminders_sent).update(
        reminders_sent=sorted({*campaign.reminders_sent, *due})
    ):
        return 0  # another worker sent it
    recipients = _recipients(campaign)
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse("admin:review_detail", args=[campaign.pk])
    deadline = f"{campaign.deadline:%Y-%m-%d %H:%M}"
    for email, count in recipients.items():
        words = {"pk": campaign.pk, "name": campaign.name, "count": count, "deadline": deadline, "url": url}
        send_mail(
            REMINDER_SUBJECT.format(**words),
            REMINDER_BODY.format(**words, unanswered=UNANSWERED_SAID[campaign.unanswered]),
            None,
            [email],
            fail_silently=True,
        )
    audit_record(
        actor=REVIEW_ACTOR,
        action="review_remind",
        target=str(campaign),
        after={"hours": due, "sent": sorted(recipients)},
    )
    return len(recipients)


# --- The deadline -------------------------------------------------------------------------------------------


def campaign_close(campaign: ReviewCampaign, now) -> tuple[bool, BulkJob | None]:
    """Close a campaign whose deadline passed, unanswered items revoked or kept as it said; return (closed, the job
    revoking them, for the caller to queue)."""
    with transaction.atomic():
        if not ReviewCampaign.objects.filter(pk=campaign.pk, status=ReviewCampaign.OPEN, deadline__lte=now).update(
            status=ReviewCampaign.CLOSED, closed_at=now
        ):
            return False, None
        decision = ReviewItem.REVOKE if campaign.unanswered == ReviewCampaign.REVOKE else ReviewItem.KEEP
        reason = DEADLINE_REASON.format(pk=campaign.pk, decision=decision)
        items = list(_undecided(campaign).order_by("email", "application"))
        for item in items:
            decisions.record_decision(REVIEW_ACTOR, item, decision, reason, action="review_expire")
        job = decisions.revocations_queue(campaign, items if decision == ReviewItem.REVOKE else [], reason)
        audit_record(
            actor=REVIEW_ACTOR,
            action="review_close",
            target=str(campaign),
            after={"unanswered": len(items), "decision": decision, "job": job.pk if job else None},
        )
    return True, job


def campaigns_tick(now=None) -> dict:
    """Check every open campaign (standing, reminders, deadline); return what was done and the jobs to queue."""
    now = now or timezone.now()
    open_campaigns = list(ReviewCampaign.objects.filter(status=ReviewCampaign.OPEN).select_related("created_by"))
    standings = campaigns.staff_standings() if any(c.deadline > now for c in open_campaigns) else {}
    report = {"moved": 0, "reminded": 0, "closed": 0, "jobs": []}
    for campaign in open_campaigns:
        if campaign.deadline > now:
            report["moved"] += reviewers_recheck(campaign, standings)
            report["reminded"] += reminders_send(campaign, now)
        else:
            closed, job = campaign_close(campaign, now)
            report["closed"] += int(closed)
            report["jobs"] += [job] if job else []
    return report


def next_tick(now=None):
    """Return when the next tick is needed: the next reminder or deadline, or one interval on (None: no need)."""
    now = now or timezone.now()
    moments = [now + timedelta(seconds=settings.PORTAL_REVIEW_TICK_SECONDS)]
    open_campaigns = ReviewCampaign.objects.filter(status=ReviewCampaign.OPEN)
    if (
        not open_campaigns.exists()
        and not BulkJob.objects.filter(kind=BulkJob.REVIEW, status=BulkJob.INTERRUPTED).exists()
    ):
        return None
    for campaign in open_campaigns:
        moments.append(campaign.deadline)
        moments += [
            campaign.deadline - timedelta(hours=h)
            for h in settings.PORTAL_REVIEW_REMINDER_HOURS
            if h not in campaign.reminders_sent
        ]
    return max(min(moment for moment in moments), now)
