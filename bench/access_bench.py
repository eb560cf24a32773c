"""Benchmark the access-check API: Cognito calls per check, and throughput on one gunicorn worker
against token verification alone.

    .venv/bin/python bench/access_bench.py [--seconds 10] [--clients 4] [--users 50]

Everything runs on 127.0.0.1 in a temporary directory: moto_server (the emulator, with its recorder on,
so every request reaching "Cognito" is counted), a SQLite database, the portal bootstrapped and its
directory synced, `--users` users of billing signed in through the applications' client, an API key.
Then gunicorn servers with ONE sync worker each are loaded in turn by `--clients` threads for
`--seconds` each (after a warm-up): the portal's POST /api/v1/access-check; the same with the recording
of last uses off, and writing one on every check (bench/use_variants.py: the recording's cost, and its
worst case); and bench/verify_app.py, which takes the same request and only verifies the token with
cognito_access. Prints a table and writes bench/results/access.json.
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
ROUNDS = 5  # the portal's variants (last use recorded, not recorded, written every check) are loaded in turn
USE_VARIANTS = ["access-check API, no use recorded", "access-check API, a use written every check"]


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
    out.write_text(json.dumps({"key": key, "tokens": tokens, "use": use_statements(key, tokens)}))


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
    return summary(latencies, time.monotonic() - started, statuses)


def summary(latencies: list[float], elapsed: float, statuses: dict[int, int]) -> dict:
    """Return counts, throughput and latency percentiles of one or more loads."""
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 2),
        "statuses": statuses,
        "_latencies": latencies,
    }


def loads_interleaved(targets: list[tuple[str, str, dict]], tokens: list[str], *, clients: int, seconds: float):
    """Load the targets in turn, ROUNDS times for seconds/ROUNDS each, so a slower moment of a shared machine
    falls on every target alike; return {name: summary}."""
    parts: dict[str, list[dict]] = {name: [] for name, _, _ in targets}
    for _ in range(ROUNDS):
        for name, url, headers in targets:
            parts[name].append(load(url, headers, tokens, clients=clients, seconds=seconds / ROUNDS))
    merged = {}
    for name, runs in parts.items():
        statuses: dict[int, int] = {}
        for run in runs:
            for code, count in run["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
        latencies = [value for run in runs for value in run["_latencies"]]
        merged[name] = summary(latencies, sum(run["seconds"] for run in runs), statuses)
    return merged


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
    moto_port, portal_port, verify_port = free_port(), free_port(), free_port()
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
        targets = [
            (
                "access-check API (portal)",
                "portal.wsgi:application",
                portal_port,
                "/api/v1/access-check",
                {"Authorization": f"Api-Key {setup['key']}", "Content-Type": "application/json"},
                {},
            ),
            (
                "access-check API, no use recorded",
                "bench.use_variants:application",
                free_port(),
                "/api/v1/access-check",
                {"Authorization": f"Api-Key {setup['key']}", "Content-Type": "application/json"},
                {"BENCH_USE_RECORDING": "off"},
            ),
            (
                "access-check API, a use written every check",
                "bench.use_variants:application",
                free_port(),
                "/api/v1/access-check",
                {"Authorization": f"Api-Key {setup['key']}", "Content-Type": "application/json"},
                {"BENCH_USE_RECORDING": "always"},
            ),
            (
                "token verification alone",
                "bench.verify_app:application",
                verify_port,
                "/",
                {"Content-Type": "application/json"},
                {},
            ),
        ]
        variants = []
        for name, app, port, path, headers, extra in targets:
            server = gunicorn(app, port, {**env, **extra}, work / f"gunicorn-{port}.log")
            servers.append(server)
            url = f"http://127.0.0.1:{port}{path}"
            wait_for(url, method="POST")
            load(url, headers, setup["tokens"], clients=args.clients, seconds=min(2.0, args.seconds))  # warm-up
            if name in USE_VARIANTS:
                variants.append((name, url, headers))  # loaded below, interleaved with the portal
                continue
            before = recorded(recording)
            result = load(url, headers, setup["tokens"], clients=args.clients, seconds=args.seconds)
            result["cognito_requests"] = recorded(recording) - before
            result["cognito_requests_per_check"] = round(result["cognito_requests"] / max(1, result["requests"]), 4)
            results[name] = result
            if name == "access-check API (portal)":
                variants.insert(0, (name, url, headers))
                continue
            stop(server)
        for name, result in loads_interleaved(
            variants, setup["tokens"], clients=args.clients, seconds=args.seconds
        ).items():
            results[name if name in USE_VARIANTS else f"{name}, interleaved"] = result
        for result in results.values():
            result.pop("_latencies", None)
        results["_use"] = setup["use"]
        return results
    finally:
        for server in servers:
            stop(server)


def report(results: dict, args) -> dict:
    """Print the table and return the JSON document."""
    setup, use = results.pop("_setup"), results.pop("_use")
    api, alone = results["access-check API (portal)"], results["token verification alone"]
    ratio = round(api["per_second"] / alone["per_second"], 3)
    print(f"{'target':44} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'Cognito req/check':>18}  statuses")
    for name, row in results.items():
        print(
            f"{name:44} {row['requests']:>9} {row['per_second']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} "
            f"{row.get('cognito_requests_per_check', '-'):>18}  {row['statuses']}"
        )
    print(f"access-check throughput / verification alone: {ratio}")
    interleaved, off = results["access-check API (portal), interleaved"], results[USE_VARIANTS[0]]
    use_ratios = {
        "recorded_over_off": round(interleaved["per_second"] / off["per_second"], 3),
        "always_over_off": round(results[USE_VARIANTS[1]]["per_second"] / off["per_second"], 3),
    }
    print(
        f"last use recorded (once a minute per user) / not recorded: {use_ratios['recorded_over_off']}; "
        f"written on every check / not recorded: {use_ratios['always_over_off']} (interleaved, {ROUNDS} rounds)"
    )
    print(
        f"recording last use, in-process: {use['checks']} checks of {use['users']} users made "
        f"{use['statements']} statements on accounts_applicationuse ({use['rows']} rows), "
        f"{use['statements_repeat']} for the same checks again within the minute; use_record alone: "
        f"{use['new_pair_us']} µs a new pair, {use['stale_pair_us']} µs a pair older than a minute, "
        f"{use['repeat_us']} µs a repeat"
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
            "cache": "django DatabaseCache",
            "emulator_requests_during_setup": setup["emulator_requests"],
        },
        "results": results,
        "throughput_ratio_api_over_verification": ratio,
        "use_recording_throughput_ratios": use_ratios,
        "use_recording_statements": use,
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
