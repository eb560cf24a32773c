"""Measure user administration: Cognito calls per operation, the list page at 10,000 and 100,000 users
against live listing, and cognito_sync at 10,000 users against the minimum of list calls.

Run from the repository root:  python bench/directory_bench.py  [--quick]
It runs in-process on moto (no network), on a throw-away SQLite database, with the test settings.
Prints a table and writes bench/results/directory.json.
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="directory-bench-")
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
warnings.filterwarnings("ignore", message="No directory at")  # whitenoise, about collected static files

import django

django.setup()

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone
from moto import mock_aws
from moto.cognitoidp.models import CognitoIdpUser, UserStatus, cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID

from accounts import cognito
from accounts.directory import index as directory
from accounts.directory import services
from accounts.models import DirectoryEntry, DirectoryGrant, User
from accounts.pool.bootstrap import bootstrap
from accounts.rules import roles
from accounts.rules.permissions import DJANGO_GROUPS

RESULTS = ROOT / "bench" / "results" / "directory.json"
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Katherine",
    "Dennis",
    "Hedy",
    "Niklaus",
    "Shafi",
    "Leslie",
    "Sophie",
    "Bjarne",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Allen",
    "McCarthy",
    "Perlman",
    "Lee",
    "Johnson",
    "Ritchie",
    "Lamarr",
    "Wirth",
    "Goldwasser",
    "Lamport",
    "Wilson",
    "Stroustrup",
]


# --- Set-up ------------------------------------------------------------------------------------


def setup() -> tuple[str, Client]:
    """Bootstrap a pool in moto, migrate the database, and return (pool id, a signed-in admin client)."""
    report = bootstrap()
    settings.COGNITO_USER_POOL_ID = report.pool_id
    settings.COGNITO_APP_CLIENT_ID = report.client_id
    settings.COGNITO_APP_CLIENT_SECRET = report.client_secret
    setup_test_environment()
    call_command("migrate", verbosity=0)
    return report.pool_id, staff_client("bench@example.com", "admin")


def staff_client(email: str, standing: str) -> Client:
    """Make a Cognito staff account (its standing is re-read live) and return a client signed in as it."""
    identity = cognito.user_create(email, {"name": "Bench Staff", "email_verified": "true"}, send_invitation=False)
    cognito.user_add_to_group(identity.sub, roles.staff_groups()[standing])
    user = User.objects.create(username=identity.sub, cognito_sub=identity.sub, email=email, is_staff=True)
    user.groups.add(Group.objects.get(name=DJANGO_GROUPS[standing]))
    client = Client()
    client.force_login(user)
    return client


def synthetic(n: int, rng: random.Random) -> tuple[list[dict], list[str]]:
    """Return the attributes of user number n and the applications it holds."""
    role = roles.Role(rng.choice(roles.role_names()), rng.randint(1, roles.max_level()))
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    email = f"{name.lower().replace(' ', '.')}.{n:06}@example.com"
    attributes = {"email": email, "email_verified": "true", "name": name, **roles.attributes_for(role)}
    apps = rng.sample(roles.application_names(), rng.choice([0, 1, 1, 2, 2, 3, 4]))
    return [{"Name": key, "Value": value} for key, value in attributes.items()], apps


def seed_pool(pool_id: str, start: int, count: int, rng: random.Random) -> list[CognitoIdpUser]:
    """Add users straight into moto's backend (its API would take O(n) per create); return them."""
    pool = cognitoidp_backends[DEFAULT_ACCOUNT_ID][settings.COGNITO_REGION].user_pools[pool_id]
    made = []
    for n in range(start, start + count):
        attributes, apps = synthetic(n, rng)
        user = CognitoIdpUser(pool_id, None, None, UserStatus.CONFIRMED, attributes)
        pool.users[user.username] = user
        for app in apps:
            group = pool.groups[roles.group_for_application(app)]
            group.users.add(user)
            user.groups.add(group)
        made.append(user)
    return made


def aware(moment):
    """Return moto's naive UTC timestamp as an aware one (what botocore would have parsed)."""
    return timezone.make_aware(moment, UTC) if timezone.is_naive(moment) else moment


def seed_index(users: list[CognitoIdpUser]) -> None:
    """Write rows for moto users straight into the index with bulk_create."""
    entries, grants = [], []
    now = timezone.now()
    for moto_user in users:
        user = cognito.User(
            username=moto_user.username,
            attributes=dict(moto_user.attribute_lookup),
            status="CONFIRMED",
            enabled=True,
            created=aware(moto_user.create_date),
            modified=aware(moto_user.last_modified_date),
        )
        entries.append(DirectoryEntry(sub=user.sub, synced_at=now, **directory.entry_fields(user, staff="")))
        grants += [
            DirectoryGrant(entry_id=user.sub, application=roles.application_for_group(group.group_name))
            for group in moto_user.groups
        ]
    DirectoryEntry.objects.bulk_create(entries, batch_size=2000)
    DirectoryGrant.objects.bulk_create(grants, batch_size=5000)


# --- Measuring ---------------------------------------------------------------------------------


def timed(function, repeat: int) -> dict:
    """Run a function `repeat` times; return the median and minimum in milliseconds."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2), "runs": repeat}


def get_ok(client: Client, url: str) -> None:
    """GET a page and insist on 200."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def live_listing(page: int = 50) -> int:
    """List one page the straightforward way: ListUsers, then AdminListGroupsForUser for each row."""
    listing = cognito.users_list(page_size=page)
    users = [next(listing) for _ in range(page)]  # one ListUsers call
    return sum(len(cognito.user_groups(user.username)) for user in users)


def calls_of(function) -> dict:
    """Return the Cognito calls a function makes, by operation."""
    with cognito.count_calls() as calls:
        function()
    return dict(calls)


def url(name: str, sub: str | None = None) -> str:
    """Return a directory admin URL."""
    return reverse(f"admin:accounts_directoryentry_{name}", args=[sub] if sub else [])


def operation_calls(client: Client) -> dict:
    """Count the Cognito calls of each operation on a small pool."""
    rng = random.Random(7)
    subs = [user.username for user in seed_pool(settings.COGNITO_USER_POOL_ID, 0, 12, rng)]
    services.directory_sync(actor="bench")
    cognito.user_update_attributes(subs[0], roles.attributes_for(roles.Role("a", 1)))
    for sub in subs[:6]:
        for group in cognito.user_groups(sub):
            cognito.user_remove_from_group(sub, group)
    services.directory_sync(actor="bench")
    apps = roles.application_names()
    result = {
        "list page": calls_of(lambda: get_ok(client, url("changelist"))),
        "list page, search and filter": calls_of(
            lambda: get_ok(client, url("changelist") + "?q=a&role=a&application=crm")
        ),
        "user page": calls_of(lambda: get_ok(client, url("change", subs[0]))),
        "role change": calls_of(lambda: client.post(url("role", subs[0]), {"role": "b", "level": "2", "shown": "a1"})),
    }
    for k in (1, 3, 5):
        result[f"grant of {k} applications"] = calls_of(
            lambda k=k: client.post(url("access", subs[k]), {"applications": apps[:k]})
        )
    result["same grant submitted again"] = calls_of(
        lambda: client.post(url("access", subs[5]), {"applications": apps[:5]})
    )
    result["revoke of 1 application"] = calls_of(lambda: client.post(url("access", subs[1]), {"applications": []}))
    result["invite with 2 applications"] = calls_of(
        lambda: client.post(
            url("add"),
            {
                "email": "bench.invite@example.com",
                "name": "Bench Invite",
                "role": "c",
                "level": "1",
                "applications": apps[:2],
            },
        )
    )
    result["disable"] = calls_of(lambda: client.post(url("disable", subs[6])))
    result["reset password"] = calls_of(lambda: client.post(url("reset_password", subs[7])))
    result["sign out everywhere"] = calls_of(lambda: client.post(url("sign_out", subs[8])))
    email = cognito.user_get(subs[9]).email
    result["delete"] = calls_of(lambda: client.post(url("delete", subs[9]), {"confirm": email}))
    return {**result, **staff_check_calls(subs[10], subs[11])}


def staff_check_calls(sub: str, other: str) -> dict:
    """Count the live staff checks: a help desk's writes read the target's groups; anyone's standing is re-read."""
    desk = staff_client("bench.desk@example.com", "helpdesk")
    shown = DirectoryEntry.objects.get(sub=sub).role_key
    boss = cognito.user_create("bench.boss@example.com", {"name": "Boss"}, send_invitation=False)
    DirectoryEntry.objects.create(
        sub=boss.sub, username=boss.sub, email="bench.boss@example.com", status="CONFIRMED", synced_at=timezone.now()
    )  # indexed before being made staff in the console
    cognito.user_add_to_group(boss.sub, roles.staff_groups()["admin"])
    desk_user = User.objects.get(email="bench.desk@example.com")
    result = {
        "help desk: role change": calls_of(
            lambda: desk.post(url("role", sub), {"role": "c", "level": "1", "shown": shown})
        ),
        "help desk: reset password": calls_of(lambda: desk.post(url("reset_password", other))),
        "help desk: sign out everywhere": calls_of(lambda: desk.post(url("sign_out", other))),
        "help desk on a console-made admin (403)": calls_of(lambda: desk.post(url("sign_out", boss.sub))),
    }
    User.objects.filter(pk=desk_user.pk).update(staff_checked_at=timezone.now() - timedelta(hours=1))
    result["own standing re-read (per PORTAL_STAFF_RECHECK_SECONDS)"] = calls_of(lambda: get_ok(desk, reverse("home")))
    return result


def list_pages(client: Client, size: int, repeat: int, live_repeat: int) -> dict:
    """Time the index list page (several queries) and the live listing at the current pool size."""
    base = reverse("admin:accounts_directoryentry_changelist")
    deep = max(1, min(size // 50, 2000))
    pages = {
        "index: first page": base,
        "index: prefix search": base + "?q=grace.h",
        "index: filter application+role": base + "?application=crm&role=b",
        "index: sort by name, filter level": base + "?o=2&level=3",
        f"index: page {deep}": base + f"?p={deep}",
    }
    result = {label: timed(lambda url=url: get_ok(client, url), repeat) for label, url in pages.items()}
    with cognito.count_calls() as calls:
        result["live: ListUsers + AdminListGroupsForUser x50"] = timed(live_listing, live_repeat)
    result["live: ListUsers + AdminListGroupsForUser x50"]["calls"] = sum(calls.values()) // live_repeat
    first, live = result["index: first page"]["median_ms"], result["live: ListUsers + AdminListGroupsForUser x50"]
    result["ratio live / index first page"] = round(live["median_ms"] / first, 1)
    return result


def query_plan() -> list[str]:
    """Return SQLite's plan for the prefix search, to show the indexes serve it."""
    from accounts.directory.selectors import directory_search

    queryset = directory_search(DirectoryEntry.objects.all(), "grace.h").order_by("email")[:50]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [row[-1] for row in cursor.fetchall()]


def sync_bench(pool_id: str, rng: random.Random, users: int) -> dict:
    """Time cognito_sync over the pool (first run fills the index, second finds nothing to change)."""
    seed_pool(pool_id, 100, users - DirectoryEntry.objects.count(), rng)
    runs = {}
    for label in ("first run (index filled)", "second run (nothing changed)"):
        started = time.perf_counter()
        with cognito.count_calls() as calls:
            report = services.directory_sync(actor="bench")
        runs[label] = {
            "seconds": round(time.perf_counter() - started, 2),
            "listing_seconds": round(report.read_seconds, 2),
            "users": report.users,
            "calls": sum(calls.values()),
            "minimum_calls": report.minimum_calls,
            "staff_group_calls": report.staff_calls,
            "by_operation": dict(calls),
            **{key: report.counts[key] for key in ("added", "updated", "removed", "unchanged")},
        }
    return runs


# --- Report ------------------------------------------------------------------------------------


def print_table(results: dict) -> None:
    """Print the results as plain tables."""
    print("\nCognito calls per operation (counted with cognito.count_calls)")
    for operation, calls in results["calls_per_operation"].items():
        print(f"  {operation:56} {sum(calls.values()):3}  {calls}")
    for size, pages in results["list_page"].items():
        print(f"\nList page with {size} users in the pool and the index (median of runs, ms)")
        for label, value in pages.items():
            if isinstance(value, float):
                print(f"  {label:50} {value}")
                continue
            calls = f", {value['calls']} calls" if "calls" in value else ""
            print(f"  {label:50} {value['median_ms']:10.1f}  (min {value['min_ms']:.1f}, {value['runs']} runs{calls})")
    print("\nPrefix-search plan (SQLite):", " | ".join(results["prefix_search_plan"]))
    print(f"\ncognito_sync at {results['sync']['first run (index filled)']['users']} users")
    for label, run in results["sync"].items():
        print(
            f"  {label:30} {run['seconds']:6.2f} s ({run['listing_seconds']:.2f} s listing)  calls {run['calls']} "
            f"(minimum {run['minimum_calls']} + {run['staff_group_calls']} staff/owner groups)  added {run['added']} "
            f"updated {run['updated']} removed {run['removed']} unchanged {run['unchanged']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 users instead of 10,000 and 100,000")
    args = parser.parse_args()
    small, large = (1_000, 10_000) if args.quick else (10_000, 100_000)
    rng = random.Random(42)
    results: dict = {"sizes": [small, large], "database": connection.vendor}
    with mock_aws():
        pool_id, client = setup()
        results["calls_per_operation"] = operation_calls(client)
        results["sync"] = sync_bench(pool_id, rng, small)
        results["list_page"] = {small: list_pages(client, small, repeat=7, live_repeat=3)}
        seed_index(seed_pool(pool_id, small + 100, large - DirectoryEntry.objects.count(), rng))
        results["list_page"][large] = list_pages(client, large, repeat=7, live_repeat=1)
        results["prefix_search_plan"] = query_plan()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
