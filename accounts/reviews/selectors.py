"""Reads of access review campaigns: the campaigns one sees, a worklist with the state now, progress, the report."""

from collections.abc import Iterator

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery

from accounts.models import DirectoryEntry, DirectoryGrant, ReviewCampaign, ReviewItem
from accounts.reviews.words import CHANGED
from accounts.rules import permissions, roles

REPORT_COLUMNS = [
    "email",
    "application",
    "role_at_start",
    "granted_at",
    "granted_by",
    "last_used",
    "reviewer",
    "decision",
    "decided_by",
    "decided_at",
    "reason",
    "changed_since_start",
    "applied",
    "applied_at",
    "applied_detail",
]
ADMINISTRATORS = "administrators"


def campaigns_visible(actor) -> QuerySet:
    """Return the campaigns the actor sees: all for an administrator, else those where they review items."""
    campaigns = ReviewCampaign.objects.all()
    if permissions.can_view_review_report(actor):
        return campaigns
    if not permissions.can_review(actor):
        return campaigns.none()
    return campaigns.filter(pk__in=ReviewItem.objects.filter(reviewer_id=actor.pk).values("campaign_id"))


def campaign_get(actor, pk: int) -> ReviewCampaign | None:
    """Return the campaign if the actor may see it, else None."""
    return campaigns_visible(actor).filter(pk=pk).select_related("created_by").first()


def worklist(actor, campaign: ReviewCampaign) -> QuerySet:
    """Return the items the actor decides, with the access and role as the index has them now."""
    held = DirectoryGrant.objects.filter(entry_id=OuterRef("sub"), application=OuterRef("application"))
    entry = DirectoryEntry.objects.filter(sub=OuterRef("sub"))
    items = permissions.items_decidable(actor, campaign.items.all())
    return items.annotate(
        held_now=Exists(held),
        exists_now=Exists(entry),
        role_now=Subquery(entry.values("role")[:1]),
        level_now=Subquery(entry.values("level")[:1]),
    ).order_by("decision", "email", "application")


def changed_now(item: ReviewItem) -> str:
    """Return what changed about a worklist item since the snapshot ('' for nothing), from its annotations."""
    if not item.exists_now:
        return CHANGED["user_gone"]
    if not item.held_now:
        return CHANGED["gone"]
    role = roles.index_label(item.role_now, item.level_now)
    return CHANGED["role"].format(role=role) if role != item.role else ""


def progress(campaign: ReviewCampaign) -> list[dict]:
    """Return per reviewer (the administrators' pool as 'administrators'): items, decided, kept, revoked."""
    rows = (
        campaign.items.values("reviewer__email")
        .annotate(
            total=Count("id"),
            decided=Count("id", filter=~Q(decision="")),
            revoke=Count("id", filter=Q(decision=ReviewItem.REVOKE)),
        )
        .order_by("reviewer__email")
    )
    return [
        {
            "reviewer": row["reviewer__email"] or ADMINISTRATORS,
            "total": row["total"],
            "decided": row["decided"],
            "revoke": row["revoke"],
            "keep": row["decided"] - row["revoke"],
            "left": row["total"] - row["decided"],
        }
        for row in rows
    ]


def outcome_counts(campaign: ReviewCampaign) -> dict[str, int]:
    """Return {applied state: items} over the campaign, in one grouped query."""
    return dict(campaign.items.exclude(applied="").values_list("applied").annotate(n=Count("id")).order_by())


def _when(moment) -> str:
    """Return a moment as ISO text, '' for none."""
    return moment.isoformat() if moment else ""


def report_items(campaign: ReviewCampaign) -> QuerySet:
    """Return the campaign's items for its report, by user and application."""
    return campaign.items.select_related("reviewer").order_by("email", "application")


def report_rows(campaign: ReviewCampaign) -> Iterator[list[str]]:
    """Yield one report row per item: the snapshot, who decided what and when, and what applying it did."""
    for item in report_items(campaign).iterator(chunk_size=200):
        yield [
            item.email,
            item.application,
            item.role,
            _when(item.granted_at),
            item.granted_by,
            _when(item.last_used),
            item.reviewer.email if item.reviewer else ADMINISTRATORS,
            item.decision,
            item.decided_by,
            _when(item.decided_at),
            item.reason,
            item.seen_current,
            item.get_applied_display() if item.applied else "",
            _when(item.applied_at),
            item.applied_message,
        ]
