"""Starting a campaign: the snapshot of who holds what (from the index and the audit), and who reviews it.

Items are assigned user by user (all of one user's items to one reviewer): to the application's owners when the
campaign asks them, else to its named staff in turn, never to the user under review; an item nobody else can
review goes to the administrators (reviewer None).
"""

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.audit.attempt import audited
from accounts.directory import services as directory_services
from accounts.models import AuditEvent, DirectoryGrant, ReviewCampaign, ReviewItem, User
from accounts.reviews import owners
from accounts.reviews.words import SAID
from accounts.rules import permissions, reasons
from accounts.rules.errors import NOT_ALLOWED, InvalidInput
from accounts.signin.staff.selectors import staff_members

GRANTING = ("access_set", "access_grant", "user_invite")  # the audited changes that can grant an application


def staff_standings() -> dict[str, str]:
    """Return {sub: standing} of the enabled staff, read live from Cognito now (the staff groups' members)."""
    return {member.sub: member.standing for member in staff_members() if member.enabled}


def _reviewers_valid(reviewers: Iterable[User], *, owners_review: bool) -> list[User]:
    """Return the named reviewers, or raise InvalidInput when there are none or one lost their standing."""
    named = sorted(reviewers, key=lambda user: user.email)
    if not named and not owners_review:
        raise InvalidInput(SAID["no_reviewers"])
    standings = staff_standings() if named else {}
    for user in named:
        if not user.cognito_sub or user.cognito_sub not in standings:
            raise InvalidInput(SAID["reviewer_not_staff"].format(email=user.email))
    return named


def _granted(subs: list[str], applications: list[str]) -> dict[tuple[str, str], tuple[datetime, str]]:
    """Return {(sub, application): (when, by whom)} of the latest audited grant of each access."""
    found: dict[tuple[str, str], tuple[datetime, str]] = {}
    events = AuditEvent.objects.filter(target_sub__in=subs, outcome=AuditEvent.SUCCESS, action__in=GRANTING)
    for sub, action, at, actor, after in events.order_by("at", "id").values_list(
        "target_sub", "action", "at", "actor", "after"
    ):
        given = after.get("granted", []) if action != "user_invite" else after.get("applications", [])
        for application in set(given) & set(applications):
            found[(sub, application)] = (at, actor)
    return found


def _reviewer_for(sub: str, application: str, named: list[User], turn: int, owners_review: bool) -> User | None:
    """Return who reviews this access: an owner, else a named reviewer in turn, never the user themselves."""
    candidates = (owners.application_reviewers(application) if owners_review else []) or named
    eligible = [user for user in candidates if user.cognito_sub != sub]
    return eligible[turn % len(eligible)] if eligible else None


def _items(campaign: ReviewCampaign, named: list[User]) -> list[ReviewItem]:
    """Return the campaign's items: each grant of its applications in the index now, with its audited grant."""
    grants = list(
        DirectoryGrant.objects.filter(application__in=campaign.applications)
        .select_related("entry")
        .order_by("entry__email", "application")
    )
    granted = _granted(sorted({grant.entry_id for grant in grants}), campaign.applications)
    turns: dict[str, int] = {}
    items = []
    for grant in grants:
        entry, turn = grant.entry, turns.setdefault(grant.entry_id, len(turns))
        at, by = granted.get((entry.sub, grant.application), (None, ""))
        items.append(
            ReviewItem(
                campaign=campaign,
                sub=entry.sub,
                email=entry.email,
                application=grant.application,
                role=entry.role_label,
                granted_at=at,
                granted_by=by,
                reviewer=_reviewer_for(entry.sub, grant.application, named, turn, campaign.owners_review),
            )
        )
    return items


def campaign_start(
    *,
    actor,
    name: str,
    applications: Iterable[str],
    reviewers: Iterable[User],
    owners_review: bool,
    deadline: datetime,
    unanswered: str,
    request=None,
    reason: str = "",
) -> ReviewCampaign:
    """Start a campaign: snapshot the access to its applications and fill each reviewer's worklist."""
    with audited(actor=actor, action="review_start", request=request, reason=reason) as attempt:
        if not permissions.can_start_review(actor):
            raise PermissionDenied(NOT_ALLOWED)
        attempt.reason = reasons.reason_check(action="review_start", reason=reason)
        chosen = directory_services.valid_applications(applications)
        if not chosen:
            raise InvalidInput(SAID["no_applications"])
        if deadline <= timezone.now():
            raise InvalidInput(SAID["deadline_past"])
        named = _reviewers_valid(reviewers, owners_review=owners_review)
        with transaction.atomic():
            campaign = ReviewCampaign.objects.create(
                name=name,
                applications=chosen,
                owners_review=owners_review,
                created_by=actor,
                deadline=deadline,
                unanswered=unanswered,
                reason=attempt.reason,
            )
            campaign.reviewers.set(named)
            items = ReviewItem.objects.bulk_create(_items(campaign, named))
            if not items:
                raise InvalidInput(SAID["nothing_to_review"])
        attempt.target = str(campaign)
        attempt.after = {
            "campaign": campaign.pk,
            "applications": chosen,
            "reviewers": [user.email for user in named] + (["owners"] if owners_review else []),
            "deadline": deadline.isoformat(),
            "unanswered": unanswered,
            "items": len(items),
        }
    return campaign
