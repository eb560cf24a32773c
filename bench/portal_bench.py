"""Measure what the directory benchmark does not: a staff sign-in and an ordinary page in Cognito calls,
token verification against a bare PyJWT decode, and cognito_sync on the large pool against the minimum.

Run from the repository root:  python bench/portal_bench.py  [--quick]
Like bench/directory_bench.py (whose set-up it reuses) it runs in-process on moto, on a throw-away SQLite
database, with the test settings. Prints a table and writes bench/results/portal.json.
"""

import argparse
import json
import random
import statistics
import time

import directory_bench as bench  # configures Django (test settings, a temporary database) on import
import jwt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from emulator import fast_listing
from moto import mock_aws

from accounts import cognito
from accounts.directory import services
from accounts.models import DirectoryEntry
from accounts.rules import roles
from accounts.signin import flows, tokens

RESULTS = bench.ROOT / "bench" / "results" / "portal.json"
PASSWORD = "Bench-Staff-Password-1!"


def staff_identity(email: str, standing: str) -> cognito.User:
    """Create a confirmed Cognito staff account with a known password."""
    user = cognito.user_create(email, {"name": "Bench Staff"}, temporary_password=PASSWORD, send_invitation=False)
    cognito.user_set_password(email, PASSWORD, permanent=True)
    cognito.user_add_to_group(email, roles.staff_groups()[standing])
    return user


class JwksFetches:
    """Count how often the token verifier downloads the pool's signing keys."""

    def __init__(self):
        self.count = 0
        self._fetch = tokens.KeySet._fetch

    def __enter__(self):
        def counted(url):
            self.count += 1
            return self._fetch(url)

        tokens.KeySet._fetch = staticmethod(counted)
        return self

    def __exit__(self, *exc):
        tokens.KeySet._fetch = staticmethod(self._fetch)


def measured(function) -> dict:
    """Run a function once; return its Cognito calls by operation and the JWKS downloads it made."""
    with JwksFetches() as fetches, cognito.count_calls() as calls:
        function()
    return {"calls": dict(calls), "jwks_downloads": fetches.count}


def sign_in(client: Client, email: str) -> None:
    """Open the sign-in page and post the form, insisting on being signed in."""
    assert client.get(reverse("accounts:login")).status_code == 200
    response = client.post(reverse("accounts:login"), {"email": email, "password": PASSWORD})
    assert response.status_code == 302 and SESSION_KEY in client.session, response.status_code


def get_ok(client: Client, url: str) -> None:
    """GET a page and insist on 200."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)


def age_session(client: Client) -> None:
    """Make the session's last revalidation older than the interval, so the next request revalidates."""
    session = client.session
    session[flows.common.TOKENS] = {**session[flows.common.TOKENS], "checked_at": 0}
    session.save()


def signin_calls() -> tuple[dict, str]:
    """Count the calls of a sign-in and of ordinary pages; return them and a fresh ID token."""
    for email, standing in (("bench.admin@example.com", "admin"), ("bench.desk@example.com", "helpdesk")):
        staff_identity(email, standing)
    tokens.keys.clear()
    first, again = Client(), Client()
    result = {
        "sign-in (first in this process)": measured(lambda: sign_in(first, "bench.admin@example.com")),
        "sign-in": measured(lambda: sign_in(again, "bench.desk@example.com")),
        "ordinary page (home)": measured(lambda: get_ok(again, reverse("home"))),
        "ordinary page (account)": measured(lambda: get_ok(again, reverse("accounts:account"))),
    }
    age_session(again)
    interval = settings.PORTAL_SESSION_REVALIDATE_SECONDS
    result[f"ordinary page, once per {interval} s (session revalidation)"] = measured(
        lambda: get_ok(again, reverse("home"))
    )
    return result, again.session[flows.common.TOKENS]["id"]


def per_call_us(functions: dict, *, rounds: int, number: int) -> dict:
    """Time `number` calls of each function, interleaved over `rounds` rounds (so that load from other
    processes hits both alike); return the median and best time of one call in microseconds, per function."""
    samples: dict = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(number):
                function()
            samples[name].append((time.perf_counter() - started) / number * 1e6)
    return {
        name: {
            "median_us": round(statistics.median(values), 1),
            "best_us": round(min(values), 1),
            "calls": rounds * number,
        }
        for name, values in samples.items()
    }


def verification(id_token: str, number: int) -> dict:
    """Time the portal's complete ID-token check (keys cached) against a bare PyJWT decode with the same key."""
    tokens.verify_id_token(id_token)  # the keys are cached from here on
    key = tokens.keys.key(jwt.get_unverified_header(id_token)["kid"]).key
    audience = settings.COGNITO_APP_CLIENT_ID
    portal, plain = "accounts.signin.tokens.verify_id_token (cached keys)", "jwt.decode (signature, exp, aud only)"
    functions = {
        portal: lambda: tokens.verify_id_token(id_token),
        plain: lambda: jwt.decode(id_token, key, algorithms=["RS256"], audience=audience),
    }
    with JwksFetches() as fetches, cognito.count_calls() as calls:
        timings = per_call_us(functions, rounds=9, number=number)
    return {
        **timings,
        "ratio": round(timings[portal]["best_us"] / timings[plain]["best_us"], 2),
        "cognito_calls": sum(calls.values()),
        "jwks_downloads": fetches.count,
    }


def large_sync(pool_id: str, users: int) -> dict:
    """Fill the pool to `users` and run cognito_sync once over it (the emulator pages in O(page))."""
    bench.seed_pool(pool_id, 1000, users - len(list_subs()), random.Random(42))
    DirectoryEntry.objects.all().delete()
    started = time.perf_counter()
    with fast_listing(), cognito.count_calls() as calls:
        report = services.directory_sync(actor="bench")
    seconds = time.perf_counter() - started
    return {
        "users": report.users,
        "seconds": round(seconds, 2),
        "listing_seconds": round(report.read_seconds, 2),
        "portal_seconds": round(seconds - report.read_seconds, 2),
        "calls": sum(calls.values()),
        "minimum_calls": report.minimum_calls,
        "staff_group_calls": report.staff_calls,
        "ratio": round(sum(calls.values()) / report.minimum_calls, 4),
        "by_operation": dict(calls),
        "added": report.counts["added"],
    }


def list_subs() -> list[str]:
    """Return the subs of the emulator's pool (straight from moto's backend, no API call)."""
    from moto.cognitoidp.models import cognitoidp_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    return list(
        cognitoidp_backends[DEFAULT_ACCOUNT_ID][settings.COGNITO_REGION].user_pools[settings.COGNITO_USER_POOL_ID].users
    )


def print_table(results: dict) -> None:
    """Print the results as plain tables."""
    print("\nCognito calls per operation (counted with cognito.count_calls; JWKS downloads apart)")
    for operation, row in results["calls_per_operation"].items():
        print(f"  {operation:55} {sum(row['calls'].values()):3}  {row['calls']}  jwks {row['jwks_downloads']}")
    check = results["token_verification"]
    print("\nID-token verification, per token (9 interleaved rounds; the ratio is of the best rounds)")
    for label, value in check.items():
        if isinstance(value, dict):
            print(f"  {label:55} {value['median_us']:8.1f} us (best {value['best_us']:.1f}, {value['calls']} calls)")
    print(
        f"  {'ratio':55} {check['ratio']:8.2f}   Cognito calls {check['cognito_calls']}, "
        f"JWKS downloads {check['jwks_downloads']}"
    )
    run = results["sync"]
    print(
        f"\ncognito_sync at {run['users']} users: {run['seconds']} s ({run['listing_seconds']} s listing in the "
        f"emulator, {run['portal_seconds']} s in the portal); calls {run['calls']}, minimum {run['minimum_calls']} "
        f"(+{run['staff_group_calls']} staff/owner groups): ratio {run['ratio']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sync at 10,000 users instead of 100,000")
    args = parser.parse_args()
    users = 10_000 if args.quick else 100_000
    results: dict = {"database": "sqlite", "sync_users": users}
    with mock_aws():
        pool_id, _ = bench.setup()
        call_command("createcachetable", verbosity=0)
        results["calls_per_operation"], id_token = signin_calls()
        results["token_verification"] = verification(id_token, number=200 if args.quick else 500)
        results["sync"] = large_sync(pool_id, users)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print_table(results)
    print(f"\nWritten to {RESULTS.relative_to(bench.ROOT)}")


if __name__ == "__main__":
    main()
