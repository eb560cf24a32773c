"""The shared request counters: a worker adds its hits in batches, and the limit holds across workers."""

import time

import pytest
from django.core.cache import cache

from accounts.applications import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def start() -> int:
    """Return the start of the current 60 s window (the cache's expiry follows the real clock)."""
    return int(time.time() // 60) * 60


@pytest.fixture
def clock(monkeypatch, start):
    """Stop the clock in the middle of the current window."""
    monkeypatch.setattr(ratelimit.time, "time", lambda: start + 30.0)


def shared(scope: str, start: int) -> int | None:
    """Return the shared counter of the scope's window."""
    return cache.get(f"ratelimit:{scope}:{start}")


def test_small_limits_count_every_hit_in_the_shared_cache(clock, start):
    assert [ratelimit.hit("s", limit=3, window=60) for _ in range(4)] == [0, 0, 0, 30]
    assert shared("s", start) == 4


def test_a_worker_adds_its_hits_in_batches_of_one_percent(clock, start):
    for _ in range(25):
        assert ratelimit.hit("b", limit=1000, window=60) == 0
    assert shared("b", start) == 20  # two batches of 10 written; the last 5 are this worker's own until the third


def test_the_limit_holds_across_workers_within_one_batch_each(clock, monkeypatch):
    limit, batch, workers = 200, 2, [{}, {}]

    def hits(worker: dict, count: int) -> int:
        monkeypatch.setattr(ratelimit, "_windows", worker)  # each worker's own memory, one shared cache
        return sum(ratelimit.hit("w", limit=limit, window=60) == 0 for _ in range(count))

    allowed = hits(workers[0], 150) + hits(workers[1], 100) + hits(workers[0], 100)
    assert limit <= allowed <= limit + batch * len(workers)


def test_a_new_window_starts_from_zero(monkeypatch, start):
    now = [start + 30.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    assert [ratelimit.hit("n", limit=2, window=60) for _ in range(3)] == [0, 0, 30]
    now[0] += 60
    assert ratelimit.hit("n", limit=2, window=60) == 0
    assert len(ratelimit._windows) == 1  # the ended window is forgotten
