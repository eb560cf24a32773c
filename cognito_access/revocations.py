"""Follow the portal's revocation feed, so that tokens of a user the portal signed out are refused at once.

The portal records "tokens of this user issued before T are void" whenever it signs a user out everywhere
(a role change, a revoked application, a disabled or deleted account, "sign out everywhere", or a sync that
finds access removed outside the portal) and serves them at `GET /api/v1/revocations?after=<cursor>` to the
application's API key. A `RevocationFeed` polls it in a background thread every `interval` seconds and
answers `revoked(claims)`: True when the token's `iat` is before the user's latest revocation.

The same feed publishes the ends set on access ahead of time (`ends`): from its `at`, `ended(sub, application)`
is True for a grant that ended, and `fallback(sub)` gives the role a temporary raise returns to, at the exact
instant, whether or not the portal's workers have removed the group yet. A later notice for the same user and
application replaces it (a cancelled one withdraws it).
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

import requests

from cognito_access.tokens import Claims

logger = logging.getLogger("cognito_access")

KEEP_SECONDS = 86400  # Cognito issues no ID or access token valid longer than a day: older revocations are moot
MAX_PAGES = 100  # per poll: a feed that keeps saying "more" cannot hold the thread forever

# transport(url, headers, timeout) -> (HTTP status, parsed JSON body); tests pass the portal's test client.
Transport = Callable[[str, dict, tuple[float, float]], tuple[int, dict]]


class FeedUnavailable(Exception):
    """The feed could not be read; the message says why, without the API key."""


def http_transport(url: str, headers: dict, timeout: tuple[float, float]) -> tuple[int, dict]:
    """GET the URL with requests; return (status, JSON body)."""
    try:
        response = requests.get(url, headers=headers, timeout=timeout)
        return response.status_code, response.json() if response.content else {}
    except (requests.RequestException, ValueError) as exc:
        raise FeedUnavailable(f"The revocation feed could not be read ({exc.__class__.__name__}).") from None


class RevocationFeed:
    """The revocations the portal published, polled in the background; thread-safe, one per process."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        interval: float = 10,
        timeout: tuple[float, float] = (3, 10),
        transport: Transport | None = None,
    ):
        self.url, self.interval, self.timeout = url, interval, timeout
        self._headers = {"Authorization": f"Api-Key {api_key}"}
        self._transport = transport or http_transport
        self._lock = threading.Lock()
        self._not_before: dict[str, float] = {}
        self._ends: dict[tuple[str, str], dict] = {}  # (sub, application or "" for a raise) -> the latest notice
        self._cursor = "0"
        self._thread: threading.Thread | None = None
        self._pid = 0  # the process that started the thread: a forked worker starts its own
        self._stop = threading.Event()
        self.polled_at = 0.0  # when the feed was last read whole (time.time()), 0 before the first time

    def revoked(self, claims: Claims) -> bool:
        """Return True when the token was issued before its user's latest revocation."""
        with self._lock:
            not_before = self._not_before.get(claims.sub)
        return not_before is not None and float(claims.raw.get("iat", 0)) < not_before

    def _end(self, sub: str, application: str) -> dict | None:
        """Return the user's end notice for the application (or raise) once its instant has come."""
        with self._lock:
            notice = self._ends.get((sub, application))
        return notice if notice is not None and notice["at"] <= time.time() else None

    def ended(self, sub: str, application: str) -> bool:
        """Return True when the user's access to the application has ended (whatever the token's groups say)."""
        return self._end(sub, application) is not None

    def fallback(self, sub: str) -> tuple[str, int] | None:
        """Return (role, level) a temporary raise that has ended returns the user to, or None (no role: ('', 0))."""
        notice = self._end(sub, "")
        return (notice["fallback_role"], notice["fallback_level"]) if notice is not None else None

    def poll(self) -> int:
        """Read the feed from the cursor until it has nothing more; return how many revocations came in."""
        received = 0
        for _ in range(MAX_PAGES):
            page = self._page()
            received += self._apply(page)
            if not page.get("more"):
                break
        self.polled_at = time.time()
        self._forget_old()
        return received

    def _page(self) -> dict:
        """Fetch one page after the cursor; raise FeedUnavailable unless the portal answered 200 with a page."""
        status, body = self._transport(f"{self.url}?{urlencode({'after': self._cursor})}", self._headers, self.timeout)
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("revocations"), list):
            raise FeedUnavailable(f"The revocation feed answered {status}: {json.dumps(body)[:200]}")
        return body

    def _apply(self, page: dict) -> int:
        """Keep each user's latest revocation from a page and move the cursor; return the rows read."""
        rows, notices = page["revocations"], page.get("ends") or []
        with self._lock:
            for row in rows:
                sub, not_before = str(row["sub"]), float(row["not_before"])
                self._not_before[sub] = max(not_before, self._not_before.get(sub, 0.0))
            for notice in sorted(notices, key=lambda item: int(item["id"])):
                key = (str(notice["sub"]), str(notice.get("application") or ""))
                if notice.get("cancelled"):
                    self._ends.pop(key, None)
                    continue
                self._ends[key] = {
                    "at": float(notice["at"]),
                    "fallback_role": str(notice.get("fallback_role") or ""),
                    "fallback_level": int(notice.get("fallback_level") or 0),
                }
            self._cursor = str(page.get("next") or self._cursor)
        return len(rows) + len(notices)

    def _forget_old(self) -> None:
        """Drop revocations older than any token still valid."""
        horizon = time.time() - KEEP_SECONDS
        with self._lock:
            self._not_before = {sub: at for sub, at in self._not_before.items() if at >= horizon}

    def start(self) -> None:
        """Poll once now, then every `interval` seconds in a daemon thread (once per process; 0 = never)."""
        with self._lock:
            if (self._thread is not None and self._pid == os.getpid()) or self.interval <= 0:
                return
            self._thread = threading.Thread(target=self._run, name="cognito-access-revocations", daemon=True)
            self._pid = os.getpid()
        self._poll_logged()
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()

    def _run(self) -> None:
        """Poll at the interval until stopped."""
        while not self._stop.wait(self.interval):
            self._poll_logged()

    def _poll_logged(self) -> None:
        """Poll, logging (not raising) a feed that cannot be read: tokens keep being checked meanwhile."""
        try:
            self.poll()
        except (FeedUnavailable, KeyError, TypeError, ValueError) as exc:
            logger.warning("cognito_access: %s", exc)
