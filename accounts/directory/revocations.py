"""Revocations: "tokens of this user issued before T are void", recorded whenever the portal signs a user out.

The access-check API refuses such tokens at once; the applications that verify tokens themselves follow the
same rows through the revocation feed (GET /api/v1/revocations), in `id` order.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Revocation

# The feed's cursor only moves past rows at least this old, so a row whose id was taken just before a
# higher one but committed just after it is never skipped; the newer rows are served again (a revocation
# applied twice changes nothing).
SETTLE_SECONDS = 5
PAGE_MAX = 1000


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed: the rows, the cursor to ask with next, and whether more are waiting."""

    rows: list[Revocation]
    next: int
    more: bool


def revocation_record(*, sub: str, at: datetime, reason: str) -> Revocation:
    """Record that every token of this user issued before `at` is void."""
    return Revocation.objects.create(sub=sub, not_before=at, reason=reason[:64])


def latest_reason(sub: str) -> str:
    """Return why this user's tokens were last voided ('' when they never were)."""
    latest = Revocation.objects.filter(sub=sub, scope="").order_by("-not_before", "-id")
    return latest.values_list("reason", flat=True).first() or ""


def feed_page(*, after: int, limit: int | None = None) -> FeedPage:
    """Return the revocations after the cursor, oldest first, and a cursor that never skips a late commit."""
    limit = limit or PAGE_MAX
    rows = list(Revocation.objects.filter(id__gt=after).order_by("id")[: limit + 1])
    page, beyond = rows[:limit], len(rows) > limit
    settled = timezone.now() - timedelta(seconds=SETTLE_SECONDS)
    cursor = after
    for row in page:
        if row.recorded_at > settled:
            break
        cursor = row.id
    return FeedPage(rows=page, next=cursor, more=beyond and cursor > after)
