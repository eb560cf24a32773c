"""Measure the freshness bound: a change made directly in Cognito, to the access-check API's new answer.

Run from the repository root:  python bench/freshness_bench.py  [--quick]
At 1,000 and 10,000 users (moto in-process, a throw-away SQLite file, the test settings with the sync's
pace set back to its defaults: 50 % of a 30/s UserList quota): a user of billing is removed from app-billing
directly in Cognito (as in the console); the scheduled sync becomes due (its queued task's time is moved to
now: that is the interval elapsing); a db_worker runs it; the API is asked again. It measures the Cognito
calls and the seconds from the change to the API's new answer, and gives the bound:
  interval + the worker's poll (1 s in make run) + that time.
Prints a table and writes bench/results/freshness.json.
"""

import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import directory_bench as base
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import cognito, tasks
from accounts.applications import services as app_services
from accounts.directory import sync_lease
from accounts.models import Application, User
from tests.bulk import run_worker  # the worker run in this process, as the tests run it

RESULTS = base.ROOT / "bench" / "results" / "freshness.json"
PASSWORD = "Bench-Fresh-Pass-1!"
WORKER_POLL_SECONDS = 1  # scripts/run starts db_worker --interval 1


def billing_client() -> str:
    """Return billing's own app client ID, as the registry holds it."""
    return Application.objects.get(name="billing").client_id


def target_user(email: str) -> str:
    """Create a billing user who signs in through the applications' client; return their ID token."""
    cognito.user_create(
        email, {"name": "Fresh Bench", "custom:role_b": "1"}, temporary_password=PASSWORD, send_invitation=False
    )
    cognito.user_set_password(email, PASSWORD, permanent=True)
    cognito.user_add_to_group(email, "app-billing")
    answer = cognito.call(
        "initiate_auth",
        ClientId=billing_client(),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return answer["AuthenticationResult"]["IdToken"]


def measure(users: int, key: str, rng: random.Random) -> dict:
    """Fill the pool to `users`, then time one change in Cognito to the API's new answer."""
    email = f"fresh.{users}@example.com"
    base.seed_pool(settings.COGNITO_USER_POOL_ID, users * 10, users - 1, rng)
    token = target_user(email)
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_worker()  # the run that sees the new users (and the target in billing)

    def allowed() -> bool:
        body = json.dumps({"token": token, "application": "billing"})
        response = Client().post(
            reverse("api_access_check"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}"
        )
        # Refused either way: 401 once the sync voided the user's tokens, or allowed: false for a newer token.
        return response.status_code == 200 and response.json()["allowed"]

    assert allowed(), "the user should hold billing before the change"
    cognito.user_remove_from_group(email, "app-billing")  # in the console
    started = time.monotonic()
    with cognito.count_calls() as calls:
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())  # the interval elapsed
        run_worker()
        answer = allowed()
    seconds = round(time.monotonic() - started, 2)
    assert not answer, "the API should refuse once the scheduled sync ran"
    interval = settings.PORTAL_SYNC_INTERVAL_SECONDS
    return {
        "users": users,
        "calls": sum(calls.values()),
        "by_operation": dict(calls),
        "seconds": seconds,
        "rate_per_second": sync_lease.rate(),
        "interval_seconds": interval,
        "bound_seconds": interval + WORKER_POLL_SECONDS + seconds,
        "bound_seconds_embedded": 300 + WORKER_POLL_SECONDS + seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same sizes (1,000 and 10,000)")
    parser.parse_args()
    settings.PORTAL_COGNITO_QUOTAS = dict(settings.COGNITO_DEFAULT_QUOTAS)  # AWS's defaults (the tests raise them)
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.8
    settings.PORTAL_SYNC_INTERVAL_SECONDS = 900  # the default against a real pool
    rng = random.Random(7)
    with base.mock_aws():
        pool_id, _ = base.setup()
        base.call_command("createcachetable", verbosity=0)  # the API's rate limit counts in the cache
        base.call_command("cognito_bootstrap", stdout=io.StringIO())  # records billing's own app client
        admin = User.objects.get(email="bench@example.com")  # the bench administrator base.setup() made
        key = app_services.api_key_issue(actor=admin, name="billing").plain
        tasks.sync_schedule(at_once=True)
        run_worker()
        runs, have = [], 0
        for size in (1000, 10000):
            runs.append(measure(size - have, key, rng) | {"users": size})
            have = size
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"{'users':>7} {'calls':>6} {'seconds':>8}  bound (interval {runs[0]['interval_seconds']} s)")
    for run in runs:
        print(
            f"{run['users']:>7,} {run['calls']:>6} {run['seconds']:>8}  {run['bound_seconds']:.0f} s "
            f"({run['bound_seconds'] / 60:.1f} min; embedded, 300 s: {run['bound_seconds_embedded'] / 60:.1f} min)"
        )


if __name__ == "__main__":
    main()
