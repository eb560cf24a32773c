"""Benchmark the access-check API: Cognito calls per check, and throughput on one gunicorn worker
against token verification alone.

    .venv/bin/python bench/access_bench.py [--seconds 10] [--clients 4] [--users 50]

Everything runs on 127.0.0.1 in a temporary directory: moto_server (the emulator, with its recorder on,
so every request reaching "Cognito" is counted), a SQLite database, the portal bootstrapped and its
directory synced, `--users` users of billing signed in through the applications' client, an API key.
Then three gunicorn servers with ONE sync worker each are loaded by `--clients` threads (after a warm-up):
the portal's POST /api/v1/access-check, bench/verify_app.py, which takes the same request and only
verifies the token with cognito_access, and the portal again remembering no token it verified
(PORTAL_ACCESS_CHECK_VERIFIED_TOKENS=0), so that every check verifies its token as the baseline does. The
load alternates between them in rounds of half a second, for `--seconds` each, so a neighbour's burst on a
shared machine falls on all; the ratio is of the best rounds
(as the verification timing is), the median rounds' ratio is printed beside it. Also timed, in the setup's
process: the access check's token verification (accounts.signin.tokens.verify_any, keys cached) against a
bare PyJWT decode of the same token with the same key, best of 9 interleaved rounds. Prints a table and
writes bench/results/access.json.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, also when run as a script
from tests.support.ports import free_port

BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "access.json"
ROUND_SECONDS = 0.5  # each target's share of one round of the alternating load
PORTAL, VERIFY = "access-check API (portal)", "token verification alone"
EVERY = "access check, every token verified"  # the portal remembering no token it verified
NO_MEMORY = {"PORTAL_ACCESS_CHECK_VERIFIED_TOKENS": "0"}


def session() -> requests.Session:
    """Return an HTTP session that never uses a proxy."""
    http = requests.Session()
    http.trust_env = False
    return http


def wait_for(url: str, seconds: float = 60, method: str = "GET") -> None:
    """Wait until the URL answers at all."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            session().request(method, url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered at {url} within {seconds} s")


def recorded(path: Path) -> int:
    """Return how many requests the emulator has recorded."""
    return sum(1 for _ in path.open()) if path.exists() else 0


def run(command: list[str], env: dict, log: Path) -> str:
    """Run a command to completion, stopping the benchmark with its log when it fails."""
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    log.write_text(result.stdout + result.stderr)
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:3])} failed; see {log}")
    return result.stdout


def setup_portal(out: Path, users: int) -> None:
    """Inside Django: make users, sync the directory, issue an API key, sign everyone in; write them to `out`."""
    import django

    django.setup()

    from accounts import cognito
    from accounts.applications import services as app_services
    from accounts.directory import sync
    from accounts.rules import roles
    from accounts.rules.permissions import CommandActor

    password = "Bench-Password-1!"
    emails = [f"bench{number}@example.com" for number in range(users)]
    for number, email in enumerate(emails):
        role = roles.Role(roles.role_names()[number % 3], 1 + number % roles.max_level())
        cognito.user_create(
            email,
            {"name": f"Bench {number}", **roles.attributes_for(role)},
            temporary_password=password,
            send_invitation=False,
        )
        cognito.user_set_password(email, password, permanent=True)
        cognito.user_add_to_group(email, roles.group_for_application("billing"))
    sync.run(source="access_bench")
    key = app_services.api_key_issue(actor=CommandActor("access_bench"), name="billing").plain
    tokens = []
    for email in emails:
        answer = cognito.call(
            "initiate_auth",
            ClientId=os.environ["COGNITO_CLIENT_ID_BILLING"],  # billing's own
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        tokens.append(answer["AuthenticationResult"]["IdToken"])
    use = use_statements(key, tokens)
    out.write_text(json.dumps({"key": key, "tokens": tokens, "verification": verification(tokens[0]), "use": use}))


def use_record_timing(pairs: int = 1000) -> dict:
    """Time use_record alone: a pair never seen (INSERT), one older than a minute (UPDATE), one just recorded."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.applications import usage

    now, times = timezone.now(), {}
    for label, at in (("new_pair_us", now), ("stale_pair_us", now + timedelta(minutes=2)), ("repeat_us", None)):
        if at is not None:
            usage.forget_all()
        started = time.perf_counter()
        for number in range(pairs):
            usage.use_record(sub=f"timing-{number}", application="billing", at=at or now + timedelta(minutes=2))
        times[label] = round((time.perf_counter() - started) / pairs * 1e6, 1)
    return times


def use_statements(key: str, tokens: list[str]) -> dict:
    """Check every token twice in-process; return the statements the recording of last uses sent each time."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import ApplicationUse

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Api-Key {key}")
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            for token in tokens:
                body = json.dumps({"token": token, "application": "billing"})
                assert client.post("/api/v1/access-check", body, content_type="application/json").status_code == 200
        counts.append(sum("accounts_applicationuse" in query["sql"] for query in captured.captured_queries))
    rows = ApplicationUse.objects.count()
    timing = use_record_timing()
    ApplicationUse.objects.all().delete()  # the load starts with no use recorded, like the variants
    return {
        **timing,
        "users": len(tokens),
        "checks": len(tokens),
        "statements": counts[0],
        "statements_repeat": counts[1],
        "rows": rows,
    }


def verification(token: str, rounds: int = 9, number: int = 200) -> dict:
    """Time the access check's token verification (keys cached) against a bare PyJWT decode, per token."""
    import timeit

    import jwt

    from accounts.signin import tokens as portal_tokens

    client = os.environ["COGNITO_CLIENT_ID_BILLING"]
    portal_tokens.verify_any(token, [client])  # the keys are cached from here on
    key = portal_tokens.keys.key(jwt.get_unverified_header(token)["kid"]).key
    functions = {
        "verify_any": lambda: portal_tokens.verify_any(token, [client]),
        "bare_decode": lambda: jwt.decode(token, key, algorithms=["RS256"], audience=client),
    }
    samples = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            samples[name].append(timeit.timeit(function, number=number) / number * 1e6)
    timings = {
        name: {"best_us": round(min(values), 1), "median_us": round(statistics.median(values), 1)}
        for name, values in samples.items()
    }
    return {
        **timings,
        "rounds": rounds,
        "calls_per_round": number,
        "ratio": round(timings["verify_any"]["best_us"] / timings["bare_decode"]["best_us"], 3),
    }


def load(url: str, headers: dict, tokens: list[str], *, clients: int, seconds: float) -> dict:
    """POST access checks from `clients` threads for `seconds`; return counts, throughput and latencies."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker(offset: int) -> None:
        http, index, mine, codes = session(), offset, [], {}
        while time.monotonic() < stop:
            body = json.dumps({"token": tokens[index % len(tokens)], "application": "billing"})
            started = time.perf_counter()
            response = http.post(url, data=body, headers=headers, timeout=30)
            mine.append(time.perf_counter() - started)
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            index += clients
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "statuses": statuses,
    }


def combined(rounds: list[dict]) -> dict:
    """Return one target's rounds together: totals, the best and median round's throughput, the worst latencies."""
    requests_done, cognito_requests = sum(r["requests"] for r in rounds), sum(r["cognito_requests"] for r in rounds)
    statuses: dict[int, int] = {}
    for one in rounds:
        for code, count in one["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    return {
        "requests": requests_done,
        "seconds": round(sum(r["seconds"] for r in rounds), 2),
        "rounds": len(rounds),
        "per_second": max(r["per_second"] for r in rounds),
        "per_second_median": statistics.median(r["per_second"] for r in rounds),
        "per_second_rounds": [r["per_second"] for r in rounds],
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p95_ms": max(r["p95_ms"] for r in rounds),
        "statuses": statuses,
        "cognito_requests": cognito_requests,
        "cognito_requests_per_check": round(cognito_requests / max(1, requests_done), 4),
    }


def gunicorn(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """Start gunicorn with one sync worker on loopback."""
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """Stop a server this script started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def measure(args, work: Path) -> dict:
    """Set everything up, load both servers, and return the results."""
    moto_port, portal_port, verify_port, every_port = free_port(), free_port(), free_port(), free_port()
    recording = work / "moto_recording.jsonl"
    recording.touch()
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "COGNITO_", "PORTAL_"))}
    base.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", PYTHONPATH=str(ROOT)
    )
    servers = [
        subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            cwd=work,
            env={**base, "MOTO_ENABLE_RECORDING": "1", "MOTO_RECORDER_FILEPATH": str(recording)},
            stdout=(work / "moto.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    try:
        wait_for(f"http://127.0.0.1:{moto_port}/moto-api/recorder/download-recording")
        env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "portal.settings.base",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": args.database_url or f"sqlite:///{work / 'db.sqlite3'}",
            "COGNITO_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "PORTAL_ACCESS_CHECK_RATE_PER_MINUTE": "10000000",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        manage = [sys.executable, "manage.py"]
        run(manage + ["migrate", "--noinput"], env, work / "migrate.log")
        run(manage + ["createcachetable"], env, work / "cache.log")
        run(manage + ["cognito_bootstrap", "--write-env", str(work / "ids.env")], env, work / "bootstrap.log")
        env.update(line.split("=", 1) for line in (work / "ids.env").read_text().splitlines() if "=" in line)
        run(
            [sys.executable, str(Path(__file__)), "--setup", str(work / "setup.json"), "--users", str(args.users)],
            env,
            work / "setup.log",
        )
        setup = json.loads((work / "setup.json").read_text())
        if recorded(recording) < args.users:  # the setup alone made several calls per user
            raise SystemExit("the emulator's recorder counted nothing: the Cognito request count would be void")
        results = {"_setup": {"emulator_requests": recorded(recording)}}
        api = {"Authorization": f"Api-Key {setup['key']}", "Content-Type": "application/json"}
        targets = [
            (PORTAL, "portal.wsgi:application", portal_port, "/api/v1/access-check", api, {}),
            (VERIFY, "bench.verify_app:application", verify_port, "/", {"Content-Type": "application/json"}, {}),
            (EVERY, "portal.wsgi:application", every_port, "/api/v1/access-check", api, NO_MEMORY),
        ]
        urls = {}
        for name, app, port, path, headers, changed in targets:
            servers.append(gunicorn(app, port, {**env, **changed}, work / f"gunicorn-{port}.log"))
            urls[name] = (f"http://127.0.0.1:{port}{path}", headers)
        for url, headers in urls.values():
            wait_for(url, method="POST")
            load(url, headers, setup["tokens"], clients=args.clients, seconds=min(2.0, args.seconds))  # warm-up
        rounds, count = {name: [] for name in urls}, max(3, round(args.seconds / ROUND_SECONDS))
        for _ in range(count):
            for name, (url, headers) in urls.items():
                before = recorded(recording)
                result = load(url, headers, setup["tokens"], clients=args.clients, seconds=args.seconds / count)
                result["cognito_requests"] = recorded(recording) - before
                rounds[name].append(result)
        for name, done in rounds.items():
            results[name] = combined(done)
        results["_setup"]["verification"] = setup["verification"]
        results["_setup"]["use"] = setup["use"]
        return results
    finally:
        for server in servers:
            stop(server)


def report(results: dict, args) -> dict:
    """Print the table and return the JSON document."""
    setup = results.pop("_setup")
    api, alone, every = results[PORTAL], results[VERIFY], results[EVERY]
    ratio = round(api["per_second"] / alone["per_second"], 3)
    median_ratio = round(api["per_second_median"] / alone["per_second_median"], 3)
    every_ratio = round(every["per_second"] / alone["per_second"], 3)
    every_median = round(every["per_second_median"] / alone["per_second_median"], 3)
    verification = setup["verification"]
    print(
        f"{'target':36} {'requests':>9} {'best req/s':>10} {'median':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'Cognito req/check':>18}"
    )
    for name, row in results.items():
        print(
            f"{name:36} {row['requests']:>9} {row['per_second']:>10} {row['per_second_median']:>8} {row['p50_ms']:>8} "
            f"{row['p95_ms']:>8} {row['cognito_requests_per_check']:>18}  {row['statuses']}"
        )
    print(f"access-check throughput / verification alone: {ratio} (best rounds; median rounds {median_ratio})")
    print(
        f"  the same, every token verified (PORTAL_ACCESS_CHECK_VERIFIED_TOKENS=0): {every_ratio} "
        f"(best rounds; median rounds {every_median})"
    )
    print(
        f"token verification / bare PyJWT decode: {verification['ratio']} "
        f"({verification['verify_any']['best_us']} us / {verification['bare_decode']['best_us']} us per token, best)"
    )
    return {
        "command": "python bench/access_bench.py " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "setup": {
            "gunicorn_workers": 1,
            "worker_class": "sync",
            "clients": args.clients,
            "seconds": args.seconds,
            "users": args.users,
            "database": (args.database_url or "sqlite").split(":", 1)[0],
            "cache": "django DatabaseCache (rate-limit hits added in batches of 1% of the limit)",
            "emulator_requests_during_setup": setup["emulator_requests"],
        },
        "results": results,
        "throughput_ratio_api_over_verification": ratio,
        "throughput_ratio_median_rounds": median_ratio,
        "throughput_ratio_every_token_verified": every_ratio,
        "throughput_ratio_every_token_verified_median_rounds": every_median,
        "verification": verification,
        "verification_ratio_over_bare_decode": verification["ratio"],
        "use_recording_statements": setup["use"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="An empty database to use instead of a temporary SQLite file (e.g. postgres://...).",
    )
    parser.add_argument("--setup", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory (logs, database).")
    args = parser.parse_args()
    if args.setup:
        setup_portal(Path(args.setup), args.users)
        return
    work = Path(tempfile.mkdtemp(prefix="access-bench-"))
    try:
        document = report(measure(args, work), args)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
