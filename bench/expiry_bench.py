"""Measure the expiry sweep: N grants ending at the same instant, swept through the services (group removed,
user signed out everywhere, revocation recorded, audited as "expiry"), paced like bulk work; rows/s against
the bound the quota buckets allow (each category's quota x share / the row's calls of it, the slowest). Also
checks that at the instant of the end, before any sweep, the access check refuses every one of them.

Run from the repository root:  python bench/expiry_bench.py  [--quick]
Full: 10,000 grants paced by the quota buckets at the configured quotas (PORTAL_COGNITO_QUOTAS x
PORTAL_COGNITO_QUOTA_SHARE), and 10,000 at 1,000 calls/s a category (the sweep's own ceiling). --quick: 200, and
2,000 at the ceiling
(moto finds a user by email alias by scanning the pool, so the sign-out costs O(pool) in the emulator).
Cognito is moto in-process, users seeded straight into its backend; the database a throw-away SQLite file.
Prints a table and writes bench/results/expiry.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="expiry-bench-")
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP}/bench.sqlite3"
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
warnings.filterwarnings("ignore", message="No directory at")

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.test.utils import setup_test_environment
from django.utils import timezone
from moto import mock_aws
from moto.cognitoidp.models import CognitoIdpUser, UserStatus, cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID

from accounts import cognito
from accounts.applications import access_check
from accounts.cognito import quotas as quotas_map
from accounts.directory import expiry
from accounts.models import (
    AccessEnd,
    ApiKey,
    Application,
    AuditEvent,
    DirectoryEntry,
    DirectoryGrant,
    QuotaBucket,
    Revocation,
)
from accounts.pool.bootstrap import bootstrap
from accounts.rules import roles
from portal.settings import base as base_settings

RESULTS = ROOT / "bench" / "results" / "expiry.json"
APP = "billing"


def setup() -> str:
    """Bootstrap a pool in moto and migrate the database; return the pool id."""
    report = bootstrap()
    settings.COGNITO_USER_POOL_ID = report.pool_id
    settings.COGNITO_APP_CLIENT_ID, settings.COGNITO_APP_CLIENT_SECRET = report.client_id, report.client_secret
    setup_test_environment()
    call_command("migrate", verbosity=0)
    return report.pool_id


def seed(pool_id: str, prefix: str, count: int, ends_at) -> list[str]:
    """Make `count` users holding billing until `ends_at` (moto's backend, the index, the ends); return subs."""
    pool = cognitoidp_backends[DEFAULT_ACCOUNT_ID][settings.COGNITO_REGION].user_pools[pool_id]
    group = pool.groups[roles.group_for_application(APP)]
    subs, entries, grants, ends = [], [], [], []
    now = timezone.now()
    for n in range(count):
        email = f"{prefix}{n:06d}@example.com"
        attributes = [{"Name": "email", "Value": email}, {"Name": "name", "Value": f"Person {n}"}]
        attributes += [{"Name": k, "Value": v} for k, v in roles.attributes_for(roles.Role("b", 1)).items()]
        user = CognitoIdpUser(pool_id, None, None, UserStatus.CONFIRMED, attributes)  # the username is the sub
        pool.users[user.username] = user
        group.users.add(user)
        user.groups.add(group)
        sub = user.attribute_lookup["sub"]
        subs.append(sub)
        entries.append(
            DirectoryEntry(
                sub=sub, username=user.username, email=email, status="CONFIRMED", role="b", level=1, synced_at=now
            )
        )
        grants.append(DirectoryGrant(entry_id=sub, application=APP))
        ends.append(
            AccessEnd(
                kind=AccessEnd.GRANT, sub=sub, application=APP, ends_at=ends_at, granted_by="bench-admin@example.com"
            )
        )
    DirectoryEntry.objects.bulk_create(entries, batch_size=2000)
    DirectoryGrant.objects.bulk_create(grants, batch_size=2000)
    AccessEnd.objects.bulk_create(ends, batch_size=2000)
    return subs


def refused_at_the_instant(subs: list[str], sample: int = 200) -> int:
    """Return how many of a sample the access check's answer already refuses (before any sweep)."""
    key, _ = ApiKey.objects.get_or_create(
        key_id="benchexpiry",
        defaults={"application": Application.objects.get(name=APP), "digest": "-", "created_by": "bench"},
    )
    step, issued = max(1, len(subs) // sample), time.time()
    answers = [
        access_check.answer_for(key=key, sub=sub, issued_at=issued, application=APP) for sub in subs[::step][:sample]
    ]
    return sum(not answer.allowed for answer in answers)


def sweep_all(quotas: dict[str, int]) -> dict:
    """Sweep every due end paced by the quota buckets at these quotas; return the measurements."""
    settings.PORTAL_COGNITO_QUOTAS = quotas
    QuotaBucket.objects.all().delete()
    counts: dict[str, int] = {}
    with cognito.count_calls() as calls, cognito.quota_paced():
        started = time.monotonic()
        while True:
            report = expiry.sweep()
            for key, value in report.counts.items():
                counts[key] = counts.get(key, 0) + value
            if not report.more:
                break
        seconds = time.monotonic() - started
    rows = counts.get("ended", 0) + counts.get("late", 0) + counts.get("closed", 0)
    share, per_category = settings.PORTAL_COGNITO_QUOTA_SHARE, {}
    for operation, count in calls.items():  # a row's calls per quota category: the slowest category sets the bound
        category = quotas_map.category_of(operation)
        per_category[category] = per_category.get(category, 0) + count / max(rows, 1)
    bound = round(min(quotas[category] * share / count for category, count in per_category.items()), 2)
    rate = {category: round(quotas[category] * share, 1) for category in per_category}
    return {
        "rows": rows,
        "ended": counts.get("ended", 0),
        "late": counts.get("late", 0),
        "rate_setting": rate,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds, 2),
        "bound_rows_per_second": bound,
        "ratio_to_bound": round(rows / seconds / bound, 3),
        "cognito_calls": sum(calls.values()),
        "by_operation": dict(calls),
        "calls_per_row": round(sum(calls.values()) / max(rows, 1), 2),
    }


def run(pool_id: str, prefix: str, count: int, quotas: dict[str, int]) -> dict:
    """Seed `count` grants that ended a second ago, check the API refuses them, sweep them; return the results."""
    ends_at = timezone.now() - timedelta(seconds=1)
    subs = seed(pool_id, prefix, count, ends_at)
    first_event = (AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    first_revocation = (Revocation.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    refused = refused_at_the_instant(subs)
    result = sweep_all(quotas)
    result["api_refused_before_sweep"] = f"{refused} of {min(200, len(subs))} sampled"
    sample = subs[:: max(1, count // 50)]
    result["still_in_group"] = sum(1 for sub in sample if f"app-{APP}" in cognito.user_groups(sub))
    events = AuditEvent.objects.filter(id__gte=first_event, action="access_expire", actor="expiry")
    result["audited_as_expiry"] = events.count()
    revocations = Revocation.objects.filter(id__gte=first_revocation, scope="", reason="access_expire")
    result["revocations"] = revocations.count()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 ends at the configured rate instead of 10,000")
    args = parser.parse_args()
    configured = base_settings.PORTAL_COGNITO_QUOTAS  # the test settings' own are unpaced
    ceiling = dict.fromkeys(configured, 1250)  # 1,000 calls/s at the 0.8 share: the sweep's own ceiling
    paced_count = 200 if args.quick else 10000
    with mock_aws():
        pool_id = setup()
        results = {
            "paced": run(pool_id, "paced", paced_count, configured),
            "ceiling": run(pool_id, "ceiling", 2000 if args.quick else 10000, ceiling),
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"quick": args.quick, "sweep": results}, indent=2))
    print(f"{'run':<8} {'rows':>6} {'rate':>5} {'s':>8} {'rows/s':>8} {'bound':>6} {'ratio':>6} {'calls/row':>9}")
    for name, run_ in results.items():
        print(
            f"{name:<8} {run_['rows']:>6} {str(run_['rate_setting']):>5} {run_['seconds']:>8} "
            f"{run_['rows_per_second']:>8} "
            f"{run_['bound_rows_per_second']:>6} {run_['ratio_to_bound']:>6} {run_['calls_per_row']:>9}  "
            f"API refused before the sweep: {run_['api_refused_before_sweep']}; late {run_['late']}; "
            f"still in the group (sample) {run_['still_in_group']}"
        )


if __name__ == "__main__":
    main()
