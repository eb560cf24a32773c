"""Fixtures for the database's side of the tests."""

import pytest


@pytest.fixture(autouse=True)
def _registry_seeded(request):
    """Seed the application registry again in transactional tests.

    Migration 0003 fills the registry from PORTAL_APPLICATIONS, but a transactional test (the browser
    tests) empties every table when it ends, so the next one would find no applications.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        return
    request.getfixturevalue("transactional_db")
    from django.conf import settings
    from django.utils import timezone

    from accounts.models import Application

    for name, description in settings.PORTAL_APPLICATIONS.items():
        Application.objects.get_or_create(name=name, defaults={"description": description, "synced_at": timezone.now()})


@pytest.fixture(autouse=True)
def _worker_memory_forgotten():
    """Forget what a worker keeps in memory about database rows (API keys, rate windows, last uses)."""
    from accounts.applications import access_check, ratelimit, usage

    access_check.forget_keys()
    ratelimit.reset()
    usage.forget_all()
    yield
    access_check.forget_keys()
    ratelimit.reset()
    usage.forget_all()


@pytest.fixture(autouse=True)
def _quota_bucket_connection_closed():
    """Close the quota buckets' own PostgreSQL connection of the test's thread when the test ends.

    A web request's thread keeps it open, as a persistent connection; the test database cannot be dropped
    while one is open.
    """
    yield
    from accounts.cognito import buckets

    buckets.buckets_close()
