"""Access review campaigns as the screens use them: each service does its work, then queues what the workers do.

The work is in campaigns.py (start), decisions.py (decide, apply) and deadline.py (the workers' tick); this
module adds the queueing (accounts/tasks.py), so that those stay free of the task machinery.
"""

from datetime import datetime, timedelta

from accounts import tasks
from accounts.models import ReviewCampaign
from accounts.reviews import campaigns, decisions

Decided = decisions.Decided


def campaign_start(*, actor, request=None, reason: str = "", **fields) -> ReviewCampaign:
    """Start a campaign (see campaigns.campaign_start) and make sure the workers' tick will close it."""
    campaign = campaigns.campaign_start(actor=actor, request=request, reason=reason, **fields)
    tasks.review_schedule()
    return campaign


def review_decide(
    *, actor, campaign: ReviewCampaign, item_ids: list[int], decision: str, reason: str = "", request=None
) -> decisions.Decided:
    """Decide these items (see decisions.review_decide) and queue the job revoking those to revoke."""
    decided = decisions.review_decide(
        actor=actor, campaign=campaign, item_ids=item_ids, decision=decision, reason=reason, request=request
    )
    if decided.job is not None:
        tasks.bulk_enqueue(decided.job)
    return decided


def deadline_default(now: datetime) -> datetime:
    """Return the deadline a new campaign's form proposes: two weeks on."""
    return (now + timedelta(days=14)).replace(second=0, microsecond=0)
