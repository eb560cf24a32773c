"""`make load`: 20 staff members at once on the portal served like `make run` with 4 gunicorn workers on the
embedded Cognito, on loopback only, for a bounded time; then the invariants.

    .venv/bin/python bench/load.py [--seconds 60] [--staff 20] [--users 300]
    (or LOAD_SECONDS, LOAD_STAFF, LOAD_USERS in the environment; LOAD_DATABASE_URL=postgres://... to serve from
    an empty PostgreSQL database instead of SQLite)

It starts scripts/run with free ports, PORTAL_WEB_WORKERS=4 and a temporary PORTAL_VAR_DIR (no .env is read),
adds staff accounts (a third administrators, the rest help desk) and target users through the gateway, syncs
the directory, then each staff member signs in through the form (with its CSRF token) and works until the
time is up: find a user by the start of their email, open their page, and then, as people do, often just
read it, sometimes change the role (help desk and administrators) or grant applications (administrators).
Each pauses between steps. Afterwards it checks, reading Cognito and the portal's database:
- every user a write touched holds exactly one role;
- the audit has one event per write attempted (per staff member and action) and one per sign-in;
- the directory index matches Cognito (every user's role, level, status, enabled, staff and applications).
Prints a table (p50/p95 latency and errors per kind, Cognito calls against the default quotas) and writes
bench/results/load.json. Exits 1 on any 5xx or a broken invariant.
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, also when run as a script
from tests.support.ports import free_port

RESULTS = ROOT / "bench" / "results" / "load.json"
PASSWORD = "Load-Staff-Password-1!"
THINK = (0.2, 1.0)  # seconds a person pauses between steps (compressed: people take longer)
AFTER_OPENING = {"read only": 0.45, "change role": 0.35, "grant": 0.20}  # help desk: grant -> read only
# AWS's default request-rate quotas (requests per second, per account and Region) for the categories the
# portal uses; see "Quotas in Amazon Cognito" in the Cognito developer guide.
QUOTAS = {
    "UserAuthentication": (120, {"AdminInitiateAuth", "AdminRespondToAuthChallenge"}),
    "UserRead": (120, {"AdminGetUser"}),
    "UserResourceRead": (50, {"AdminListGroupsForUser"}),
    "UserUpdate": (
        25,
        {
            "AdminUpdateUserAttributes",
            "AdminUserGlobalSignOut",
            "AdminAddUserToGroup",
            "AdminRemoveUserFromGroup",
            "AdminDisableUser",
            "AdminEnableUser",
        },
    ),
    "UserList": (30, {"ListUsers", "ListUsersInGroup"}),
}


def env_int(name: str, default: int) -> int:
    """Return an integer from the environment, or the default."""
    return int(os.environ.get(name) or default)


# --- The portal, started by scripts/run ------------------------------------------------------------


class Portal:
    """scripts/run in a temporary directory, on free loopback ports, with 4 workers."""

    def __init__(self, work: Path, workers: int):
        self.work, self.var = work, work / "var"
        self.moto_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (work / "empty.env").write_text("")
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "COGNITO_", "PORTAL_", "AWS_", "DATABASE_"))
        }
        self.env = {
            **keep,
            "MOTO_PORT": str(self.moto_port),
            "PORTAL_PORT": str(self.port),
            "PORTAL_VAR_DIR": str(self.var),
            "PORTAL_WEB_WORKERS": str(workers),
            "PORTAL_ENV_FILE": str(work / "empty.env"),
            "PORTAL_START_TIMEOUT": "120",
            # moto's recorder, only to count the Cognito requests (make run keeps a snapshot instead)
            "MOTO_ENABLE_RECORDING": "1",
            "MOTO_RECORDER_FILEPATH": str(self.var / "moto" / "recording.jsonl"),
        }
        if os.environ.get("LOAD_DATABASE_URL"):  # an empty database to use instead of SQLite in the temporary directory
            self.env["DATABASE_URL"] = os.environ["LOAD_DATABASE_URL"]
        self.log = work / "run.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start scripts/run and wait until /healthz answers 200."""
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"scripts/run stopped during start-up:\n{self.log.read_text()[-3000:]}")
            try:
                if http().get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the portal did not answer within 180 s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop scripts/run (it stops the emulator and gunicorn), then anything left in its session."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the session scripts/run leads, started here
            self.process.wait(5)

    def django_environment(self) -> None:
        """Point this process's Django at the same pool, emulator and database as the portal."""
        ids = dict(line.split("=", 1) for line in (self.var / "embedded.env").read_text().splitlines() if "=" in line)
        os.environ.update(
            {
                **{k: v for k, v in self.env.items() if k.startswith(("PORTAL_", "DATABASE_"))},
                **ids,
                "DJANGO_SETTINGS_MODULE": "portal.settings.base",
                "COGNITO_EMBEDDED": "true",
                "COGNITO_ENDPOINT_URL": f"http://127.0.0.1:{self.moto_port}",
                "COGNITO_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        if "DATABASE_URL" not in self.env:
            os.environ.pop("DATABASE_URL", None)  # the portal's database: SQLite in the temporary directory
        import logging

        import django

        django.setup()
        logging.disable(logging.INFO)  # the driver's own audit lines (seeding) would interleave with the table


def http() -> requests.Session:
    """Return an HTTP session that never goes through a proxy."""
    session = requests.Session()
    session.trust_env = False
    return session


# --- Seeding through the gateway -------------------------------------------------------------------


def seed(staff: int, users: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Create staff accounts and target users in Cognito, then sync the directory; return both lists."""
    from accounts import cognito
    from accounts.applications import selectors as app_selectors
    from accounts.directory import services
    from accounts.rules import roles

    admins = max(1, staff // 3)
    applications = app_selectors.application_names()
    people = []
    for number in range(staff):
        standing = "admin" if number < admins else "helpdesk"
        email = f"load.{standing}.{number:02}@example.com"
        cognito.user_create(
            email, {"name": f"Load {standing} {number}"}, temporary_password=PASSWORD, send_invitation=False
        )
        cognito.user_set_password(email, PASSWORD, permanent=True)
        cognito.user_add_to_group(email, roles.staff_groups()[standing])
        people.append({"email": email, "standing": standing})
    targets = []
    for number in range(users):
        email = f"target.{number:04}.{rng.choice(['ops', 'sales', 'eng', 'hr'])}@example.com"
        role = roles.Role(rng.choice(roles.role_names()), rng.randint(1, roles.max_level()))
        user = cognito.user_create(
            email, {"name": f"Target {number}", **roles.attributes_for(role)}, send_invitation=False
        )
        for app in rng.sample(applications, rng.choice([0, 1, 1, 2])):
            cognito.user_add_to_group(user.sub, roles.group_for_application(app))
        targets.append({"email": email, "sub": user.sub})
    services.directory_sync(actor="make load")
    return people, targets


# --- One staff member --------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SHOWN = re.compile(r'name="shown" value="([^"]*)"')
CHECKBOX = re.compile(r'<input[^>]*name="applications"[^>]*>')


class StaffMember(threading.Thread):
    """Sign in through the form, then find, open and change users until the deadline."""

    def __init__(self, base: str, person: dict, targets: list[dict], deadline: float, seed_value: int):
        super().__init__(daemon=True)
        self.base, self.person, self.targets, self.deadline = base, person, targets, deadline
        self.rng = random.Random(seed_value)
        self.session = http()
        self.samples: list[tuple[str, float, int]] = []  # (kind, seconds, status)
        self.writes: Counter = Counter()  # audit action -> attempts
        self.touched: set[str] = set()
        self.failures: list[str] = []

    def request(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        """Send one request and record its latency and status; None when no answer came."""
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=30, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.samples.append((kind, time.perf_counter() - started, 0))
            self.failures.append(f"{kind} {path}: {exc.__class__.__name__}")
            return None
        self.samples.append((kind, time.perf_counter() - started, response.status_code))
        return response

    def pause(self) -> None:
        """Think between two steps, never past the deadline."""
        time.sleep(max(0.0, min(self.rng.uniform(*THINK), self.deadline - time.monotonic())))

    def sign_in(self) -> bool:
        """Open the sign-in page and post the form with its CSRF token."""
        page = self.request("sign-in page", "GET", "/accounts/login/")
        if page is None or page.status_code != 200:
            return False
        answer = self.request(
            "sign-in",
            "POST",
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": CSRF.search(page.text).group(1),
                "email": self.person["email"],
                "password": PASSWORD,
            },
        )
        return answer is not None and answer.status_code == 302 and "/accounts/login/" not in answer.headers["Location"]

    def run(self) -> None:
        if not self.sign_in():
            self.failures.append(f"{self.person['email']} could not sign in")
            return
        while time.monotonic() < self.deadline:
            self.task()

    def task(self) -> None:
        """Find a user, open their page, then read it, change the role or grant applications."""
        target = self.rng.choice(self.targets)
        prefix = target["email"][: self.rng.randint(8, 13)]
        self.request("search", "GET", "/admin/accounts/directoryentry/", params={"q": prefix})
        self.pause()
        path = f"/admin/accounts/directoryentry/{target['sub']}/change/"
        page = self.request("open user", "GET", path)
        if page is None or page.status_code != 200 or time.monotonic() >= self.deadline:
            return
        self.pause()
        choice = self.rng.choices(list(AFTER_OPENING), weights=list(AFTER_OPENING.values()))[0]
        if choice == "grant" and self.person["standing"] != "admin":
            choice = "read only"
        if choice == "change role":
            self.change_role(target, page.text)
        elif choice == "grant":
            self.grant(target, page.text)
        self.pause()

    def change_role(self, target: dict, page: str) -> None:
        """Post the role form with a role other than the one shown."""
        shown = SHOWN.search(page).group(1)
        choices = [(role, level) for role in "abc" for level in (1, 2, 3) if f"{role}{level}" != shown]
        role, level = self.rng.choice(choices)
        self.write(
            "change role", "role_change", target, "role/", {"role": role, "level": str(level), "shown": shown}, page
        )

    def grant(self, target: dict, page: str) -> None:
        """Post the access form: what the user holds plus one to three more applications."""
        boxes = CHECKBOX.findall(page)
        held = [re.search(r'value="([^"]+)"', box).group(1) for box in boxes if "checked" in box]
        free = [re.search(r'value="([^"]+)"', box).group(1) for box in boxes if "checked" not in box]
        wanted = held + self.rng.sample(free, min(len(free), self.rng.randint(1, 3)))
        self.write("grant", "access_set", target, "access/", {"applications": wanted}, page)

    def write(self, kind: str, action: str, target: dict, suffix: str, data: dict, page: str) -> None:
        """Post a form of the user page, then follow the redirect back to it like a browser."""
        data = {**data, "csrfmiddlewaretoken": CSRF.search(page).group(1)}
        self.writes[action] += 1
        self.touched.add(target["sub"])
        answer = self.request(kind, "POST", f"/admin/accounts/directoryentry/{target['sub']}/{suffix}", data=data)
        if answer is not None and answer.status_code == 302:
            self.request("open user", "GET", answer.headers["Location"])


# --- Watching the emulator -----------------------------------------------------------------------------


class CallMonitor(threading.Thread):
    """Count the Cognito requests the emulator records, per second and per operation."""

    def __init__(self, recording: Path):
        super().__init__(daemon=True)
        self.recording, self.stop = recording, threading.Event()
        self.seconds: list[Counter] = []
        self.offset = recording.stat().st_size

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.seconds.append(self.read_new())
        self.seconds.append(self.read_new())

    def read_new(self) -> Counter:
        """Return the operations recorded since the last reading (whole lines only)."""
        counts: Counter = Counter()
        with self.recording.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            headers = json.loads(line).get("headers", {})
            target = headers.get("X-Amz-Target") or headers.get("x-amz-target") or "JWKS and other GETs"
            counts[target.rsplit(".", 1)[-1]] += 1
        return counts


# --- The invariants ----------------------------------------------------------------------------------------


def check_roles(touched: set[str]) -> list[str]:
    """Return the touched users that do not hold exactly one role in Cognito."""
    from accounts import cognito
    from accounts.rules import roles

    broken = []
    for sub in sorted(touched):
        held = roles.held_roles(cognito.user_get(sub).attributes)
        if len(held) != 1:
            broken.append(f"{sub} holds {[str(role) for role in held] or 'no role'}")
    return broken


def check_audit(staff: list[StaffMember], since) -> list[str]:
    """Return every (staff member, action) whose audit events differ from the attempts."""
    from accounts.models import AuditEvent

    recorded = Counter(AuditEvent.objects.filter(at__gte=since).values_list("actor", "action"))
    broken = []
    for member in staff:
        email = member.person["email"]
        expected = {"sign_in": 1, **{action: member.writes[action] for action in ("role_change", "access_set")}}
        for action, count in expected.items():
            if recorded[(email, action)] != count:
                broken.append(f"{email} {action}: {count} attempted, {recorded[(email, action)]} audited")
    return broken


def check_index() -> tuple[list[str], int]:
    """Return how the directory index differs from a fresh reading of the whole pool, and the users read."""
    from accounts.directory import index as directory
    from accounts.directory import sync
    from accounts.models import DirectoryEntry

    reading = sync.read_pool()
    fields = ["email", "status", "enabled", "role", "level", "staff"]
    rows = {entry.sub: entry for entry in DirectoryEntry.objects.prefetch_related("grants")}
    broken = [f"{sub}: not in the index" for sub in reading.users if sub not in rows]
    broken += [f"{sub}: in the index, not in Cognito" for sub in rows if sub not in reading.users]
    for sub, user in reading.users.items():
        entry = rows.get(sub)
        if entry is None:
            continue
        wanted = directory.entry_fields(user, staff=reading.staff.get(sub, ""))
        for name in fields:
            if getattr(entry, name) != wanted[name]:
                broken.append(f"{sub}: {name} is {getattr(entry, name)!r} in the index, {wanted[name]!r} in Cognito")
        apps = set(directory.entry_applications(entry))
        if apps != reading.applications.get(sub, set()):
            broken.append(
                f"{sub}: applications {sorted(apps)} in the index, "
                f"{sorted(reading.applications.get(sub, set()))} in Cognito"
            )
    return broken, len(reading.users)


# --- Report -----------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of sorted values."""
    return values[max(0, min(len(values) - 1, round(fraction * len(values) + 0.5) - 1))]


def latency_table(staff: list[StaffMember]) -> dict:
    """Return count, p50, p95, max and errors per kind of request."""
    by_kind: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for member in staff:
        for kind, seconds, status in member.samples:
            by_kind[kind].append((seconds, status))
    expected = {"sign-in": 302, "change role": 302, "grant": 302}
    table = {}
    for kind, rows in by_kind.items():
        times = sorted(seconds for seconds, _ in rows)
        statuses = Counter(status for _, status in rows)
        wanted = expected.get(kind, 200)
        table[kind] = {
            "requests": len(rows),
            "p50_ms": round(percentile(times, 0.5) * 1000, 1),
            "p95_ms": round(percentile(times, 0.95) * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1),
            "errors": sum(n for status, n in statuses.items() if status != wanted),
            "5xx": sum(n for status, n in statuses.items() if status >= 500),
            "statuses": {str(status): n for status, n in sorted(statuses.items())},
        }
    return table


def quota_table(monitor: CallMonitor) -> dict:
    """Return the Cognito requests per operation and, per quota category, the peak and mean per second."""
    total = sum(monitor.seconds, Counter())
    seconds = max(1, len(monitor.seconds) - 1)
    categories = {}
    for category, (quota, operations) in QUOTAS.items():
        per_second = [sum(n for op, n in second.items() if op in operations) for second in monitor.seconds]
        categories[category] = {
            "default_quota_rps": quota,
            "peak_rps": max(per_second, default=0),
            "mean_rps": round(sum(per_second) / seconds, 1),
        }
    return {"by_operation": dict(total.most_common()), "categories": categories}


def print_report(document: dict) -> None:
    """Print the tables and the invariants."""
    setup = document["setup"]
    print(
        f"\n{setup['staff']} staff ({setup['administrators']} administrators) for {setup['seconds']} s on "
        f"gunicorn with {setup['workers']} workers, {setup['users']} target users, database {setup['database']}"
    )
    print(f"  {'kind':14} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>7} {'5xx':>4}  statuses")
    for kind, row in document["latency"].items():
        print(
            f"  {kind:14} {row['requests']:>8} {row['p50_ms']:>8} {row['p95_ms']:>8} {row['max_ms']:>8} "
            f"{row['errors']:>7} {row['5xx']:>4}  {row['statuses']}"
        )
    print(f"  {document['requests']} requests, {document['requests_per_second']} per second")
    print("\nWrites (from the audit)")
    for action, outcomes in document["write_outcomes"].items():
        print(f"  {action:14} {outcomes}")
    for reason, count in document["write_refusals"].items():
        print(f"    {count:4} x {reason}")
    print("\nCognito requests during the load, per quota category (requests per second)")
    for category, row in document["cognito"]["categories"].items():
        print(
            f"  {category:20} peak {row['peak_rps']:>4}  mean {row['mean_rps']:>5}  "
            f"default quota {row['default_quota_rps']}"
        )
    print(f"  by operation: {document['cognito']['by_operation']}")
    print("\nInvariants")
    for name, problems in document["invariants"].items():
        print(f"  {name:55} {'ok' if not problems else 'BROKEN'}")
        for problem in problems[:10]:
            print(f"      {problem}")


# --- Main ---------------------------------------------------------------------------------------------------


def run_staff(portal: Portal, people: list[dict], targets: list[dict], seconds: int):
    """Let every staff member work until the deadline; return them, the call monitor and the elapsed time."""
    monitor = CallMonitor(portal.var / "moto" / "recording.jsonl")
    deadline = time.monotonic() + seconds
    staff = [StaffMember(portal.url, person, targets, deadline, number) for number, person in enumerate(people)]
    started = time.monotonic()
    monitor.start()
    for member in staff:
        member.start()
    for member in staff:
        member.join(seconds + 120)
    elapsed = time.monotonic() - started
    monitor.stop.set()
    monitor.join(10)
    return staff, monitor, elapsed


def write_outcomes(since) -> tuple[dict, dict]:
    """Return the audited writes' outcomes per action, and why the refused ones were refused."""
    from django.db.models import Count

    from accounts.models import AuditEvent

    writes = AuditEvent.objects.filter(at__gte=since, action__in=["role_change", "access_set"])
    rows = writes.values("action", "outcome").annotate(n=Count("id"))
    outcomes = {
        action: {row["outcome"]: row["n"] for row in rows if row["action"] == action}
        for action in ("role_change", "access_set")
    }
    refused = writes.exclude(outcome=AuditEvent.SUCCESS).values_list("error", flat=True)
    reasons = Counter(error[:90] for error in refused)
    return outcomes, dict(reasons.most_common())


def measure(portal: Portal, args) -> dict:
    """Seed, run the staff until the deadline, check the invariants; return the document."""
    from django.conf import settings
    from django.utils import timezone

    people, targets = seed(args.staff, args.users, random.Random(7))
    since = timezone.now()
    staff, monitor, elapsed = run_staff(portal, people, targets, args.seconds)
    stuck = [member.person["email"] for member in staff if member.is_alive()]
    touched = set().union(*(member.touched for member in staff))
    index_problems, pool_users = check_index()
    latency = latency_table(staff)
    outcomes, refusals = write_outcomes(since)
    requests_made = sum(row["requests"] for row in latency.values())
    return {
        "command": "python bench/load.py " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "setup": {
            "staff": args.staff,
            "administrators": sum(p["standing"] == "admin" for p in people),
            "seconds": args.seconds,
            "workers": args.workers,
            "users": args.users,
            "pool_users": pool_users,
            "think_seconds": THINK,
            "after_opening": AFTER_OPENING,
            "cpus": os.cpu_count(),
            "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        },
        "latency": latency,
        "requests": requests_made,
        "requests_per_second": round(requests_made / elapsed, 1),
        "write_outcomes": outcomes,
        "write_refusals": refusals,
        "cognito": quota_table(monitor),
        "client_failures": [f for member in staff for f in member.failures][:50],
        "invariants": {
            "no 5xx": [f"{kind}: {row['5xx']} answers 5xx" for kind, row in latency.items() if row["5xx"]],
            "every staff member signed in and stopped in time": stuck
            + [f for member in staff for f in member.failures if "could not sign in" in f],
            f"every touched user holds exactly one role ({len(touched)} users)": check_roles(touched),
            "one audit event per attempted write and per sign-in": check_audit(staff, since),
            "the index matches Cognito": index_problems,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=int, default=env_int("LOAD_SECONDS", 60), choices=range(1, 601), metavar="1..600"
    )
    parser.add_argument("--staff", type=int, default=env_int("LOAD_STAFF", 20), choices=range(1, 51), metavar="1..50")
    parser.add_argument(
        "--users", type=int, default=env_int("LOAD_USERS", 300), choices=range(10, 5001), metavar="10..5000"
    )
    parser.add_argument("--workers", type=int, default=4, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"where to write the JSON ({RESULTS.name})")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-load-"))
    portal = Portal(work, args.workers)
    print(
        f"starting the portal ({args.workers} workers) on {portal.url}, the emulator on port {portal.moto_port}; "
        f"log: {portal.log}",
        flush=True,
    )
    try:
        portal.start()
        portal.django_environment()
        print(f"seeding {args.staff} staff and {args.users} users, then {args.seconds} s of load...", flush=True)
        document = measure(portal, args)
    finally:
        portal.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print_report(document)
    print(f"\nWritten to {args.results}" + (f"; kept {work}" if args.keep else ""))
    sys.exit(1 if any(document["invariants"].values()) else 0)


if __name__ == "__main__":
    main()
