"""Measure bulk work: import throughput against the bound the configured Cognito quotas set, the peak per quota
category per second, attempts and retries (checked against a counter in front of the emulator), the
upload request's time and the worker's preview time of 100,000 rows (and how long another writer waited
meanwhile), the upload request of a file at the limit, and the peak memory of the access review export at
100,000 users against 100.

Run from the repository root:  python bench/bulk_bench.py  [--quick]
Cognito is moto's server on 127.0.0.1 (the emulator `make run` uses) behind bench/emulator.py's Front (an
independent request counter, and a slow or quota-enforcing Cognito on demand), the database a throw-away SQLite
file (or the empty database at BENCH_DATABASE_URL, e.g. a PostgreSQL one), the settings the test settings with
the production defaults for the quotas, their share and PORTAL_BULK_THREADS. The import runs through the job
runner (claiming, the quota buckets, the services, the audit, its threads) in this process; "2 workers" runs
two runners on the same job.
Prints a table and writes bench/results/bulk.json (bulk-quick.json with --quick).
"""

import argparse
import atexit
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="bulk-bench-")
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{_TMP}/bench.sqlite3"
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
warnings.filterwarnings("ignore", message="No directory at")

import logging

import django

django.setup()
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from accounts import (
    cognito,
    tasks,
)
from accounts.bulk import engine as bulk
from accounts.bulk import imports, jobs
from accounts.models import BulkJob, DirectoryEntry, DirectoryGrant, QuotaBucket, User
from accounts.pool.bootstrap import bootstrap
from accounts.rules.permissions import DJANGO_GROUPS
from accounts.tasks import import_read_run
from bench.emulator import FrontClient, peak_per_second
from portal.settings import base as base_settings
from tests.support.ports import free_port

RESULTS = ROOT / "bench" / "results" / "bulk.json"
ADMIN = "bench-admin@example.com"
SLOW = 0.05  # seconds the emulator takes longer for every request in the import runs: a slow Cognito


def start_emulator() -> FrontClient:
    """Start moto behind the Front in a process of its own (stopped when this one ends); return its client."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "emulator.py"), "--port", str(port)]
        + ["--categories", json.dumps(cognito.quotas.CATEGORY)],
        stdout=subprocess.DEVNULL,
        stderr=(Path(_TMP) / "emulator.log").open("w"),
    )
    atexit.register(process.terminate)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/_front/seen").read()
            return FrontClient(url)
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the emulator did not start; see {_TMP}/emulator.log")


def setup() -> tuple[User, FrontClient]:
    """Start the emulator, bootstrap a pool with an administrator, migrate; return the administrator and the Front."""
    front = start_emulator()
    settings.COGNITO_ENDPOINT_URL = front.url
    settings.PORTAL_ADMIN_EMAIL, settings.PORTAL_ADMIN_PASSWORD = ADMIN, "Bench-Admin-Pass-1!"
    cognito.reset_client()
    report = bootstrap()
    settings.COGNITO_USER_POOL_ID, settings.COGNITO_APP_CLIENT_ID = report.pool_id, report.client_id
    settings.COGNITO_APP_CLIENT_SECRET = report.client_secret
    setup_test_environment()
    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench", cognito_sub=cognito.user_get(ADMIN).sub, email=ADMIN, is_staff=True)
    admin.groups.add(Group.objects.get(name=DJANGO_GROUPS["admin"]))
    return admin, front


def people(prefix: str, count: int) -> bytes:
    """Return a CSV of `count` new users, each with role B1 and one application."""
    lines = [f"{prefix}{n:05d}@example.com,Person {n},b,1,crm" for n in range(count)]
    return ("email,name,role,level,applications\n" + "\n".join(lines) + "\n").encode()


def by_category(by_operation: dict) -> Counter:
    """Return a count by operation added up by quota category."""
    found: Counter = Counter()
    for operation, count in by_operation.items():
        found[cognito.category_of(operation) or operation] += count
    return found


def bound(first_attempts: Counter, rows: int, limits: dict[str, int]) -> tuple[float, str]:
    """Return the rows/s the slowest category allows for these calls a row, and that category.

    A category's rate is its configured quota x the share, or the emulator's enforced limit when lower.
    """
    rates = {
        category: min(cognito.category_rate(category), limits.get(category, float("inf"))) / (count / rows)
        for category, count in by_category(first_attempts).items()
        if count
    }
    limiting = min(rates, key=rates.get)
    return rates[limiting], limiting


def run_import(admin: User, front: FrontClient, data: bytes, *, workers: int, limits=None) -> dict:
    """Apply a file with `workers` runners against a slow emulator (enforcing `limits`); return the measurements."""
    settings.PORTAL_COGNITO_QUOTAS = dict(base_settings.PORTAL_COGNITO_QUOTAS)  # the test settings raise them
    settings.PORTAL_COGNITO_QUOTA_SHARE = base_settings.PORTAL_COGNITO_QUOTA_SHARE
    settings.PORTAL_BULK_THREADS = base_settings.PORTAL_BULK_THREADS
    cognito.buckets_clear()
    job = imports.import_preview(actor=admin, binary=io.BytesIO(data), name="bench.csv", size=len(data))
    jobs.job_start(actor=admin, job=job, background=False)
    threads = [threading.Thread(target=_worker, args=(job.pk, admin.pk, n)) for n in range(workers)]
    front.reset(latency=SLOW, limits=limits)
    with cognito.count_calls() as calls, cognito.count_retries() as retries:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
    arrivals, throttled, busy = front.seen()
    seen = Counter(operation for _, operation in arrivals)
    job.refresh_from_db()
    progress = bulk.progress(job)
    first = Counter({operation: calls[operation] - retries[operation] for operation in calls})
    rows_bound, limiting = bound(first, job.total, limits or {})
    peaks = {
        category: peak_per_second([at for at, operation in arrivals if cognito.category_of(operation) == category])
        for category in by_category(calls)
    }
    return {
        "rows": job.total,
        "workers": workers,
        "threads": settings.PORTAL_BULK_THREADS,
        "latency_s": SLOW,
        "enforced_limits": limits or {},
        "seconds": round(seconds, 2),
        "rows_per_second": round(job.total / seconds, 2),
        "bound_rows_per_second": round(rows_bound, 2),
        "limiting_category": limiting,
        "ratio": round(job.total / seconds / rows_bound, 3),
        "calls_per_row": {c: round(n / job.total, 2) for c, n in by_category(first).items()},
        "attempts": sum(calls.values()),
        "retries": sum(retries.values()),
        "attempts_by_operation": dict(calls),
        "retries_by_operation": dict(retries),
        "emulator_requests": sum(seen.values()),
        "emulator_throttled": sum(throttled.values()),
        "emulator_busy_share": round(busy / seconds, 2),  # moto's own serving time / the run's: 1 = the limit
        "counts_agree": dict(seen) == dict(calls),
        "peak_per_second": peaks,
        "share_per_second": {c: round(cognito.category_rate(c), 2) for c in peaks},
        "status": progress["status"],
        "created": progress["created"],
        "unchanged": progress["unchanged"],
        "failed": progress["failed"],
    }


def _worker(job_id: int, actor_id: int, number: int) -> None:
    """Apply a job's rows in this thread, as a db_worker would."""
    try:
        tasks.bulk_work(job_id=job_id, actor_id=actor_id, worker=f"bench-{number}")
    finally:
        connection.close()


def seed_index(count: int) -> None:
    """Replace the index with `count` users holding two applications each."""
    DirectoryGrant.objects.all().delete()
    DirectoryEntry.objects.all().delete()
    now = timezone.now()
    for start in range(0, count, 5000):
        chunk = range(start, min(count, start + 5000))
        DirectoryEntry.objects.bulk_create(
            [
                DirectoryEntry(
                    sub=f"sub-{n:07d}",
                    username=f"sub-{n:07d}",
                    email=f"user{n:07d}@example.com",
                    name=f"User {n}",
                    status="CONFIRMED",
                    role="abc"[n % 3],
                    level=1 + n % 3,
                    synced_at=now,
                    modified=now - timedelta(days=1),
                )
                for n in chunk
            ]
        )
        DirectoryGrant.objects.bulk_create(
            [DirectoryGrant(entry_id=f"sub-{n:07d}", application=app) for n in chunk for app in ("crm", "hr")]
        )


def export_peak(client: Client) -> dict:
    """Stream the whole access review under tracemalloc; return rows, bytes, seconds and peak memory."""
    url = reverse("admin:accounts_directoryentry_access_review")
    tracemalloc.start()
    started = time.monotonic()
    response = client.get(url)
    rows = size = 0
    for line in response.streaming_content:
        rows, size = rows + 1, size + len(line)
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rows": rows - 1, "bytes": size, "seconds": round(seconds, 2), "peak_kib": round(peak / 1024, 1)}


def measure_export(admin: User, sizes: list[int]) -> dict:
    """Return the export's peak memory at each size and the ratio of the largest to the smallest."""
    client = Client()
    client.force_login(admin)
    seed_index(sizes[0])
    export_peak(client)  # warm up imports, templates and query compilation
    found = {}
    for size in sizes:
        seed_index(size)
        found[str(size)] = export_peak(client)
    first, last = found[str(sizes[0])], found[str(sizes[-1])]
    return {"by_users": found, "peak_ratio": round(last["peak_kib"] / first["peak_kib"], 2)}


def _other_writer(waits: list, stop: threading.Event) -> None:
    """Write one short transaction every 50 ms until stopped, noting how long each waited (or its error)."""
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                with transaction.atomic():
                    QuotaBucket.objects.update_or_create(
                        pk="bench-writer", defaults={"next_at": time.time(), "updated_at": time.time()}
                    )
                waits.append(time.monotonic() - started)
            except OperationalError as exc:
                waits.append(str(exc))
            time.sleep(0.05)
    finally:
        connection.close()


def _upload(admin: User, data: bytes) -> tuple[BulkJob, float, int]:
    """Post the file to the upload screen; return the job, the request's seconds and the rows it planned."""
    client = Client()
    client.force_login(admin)
    upload = SimpleUploadedFile("preview.csv", data, content_type="text/csv")
    started = time.monotonic()
    response = client.post(reverse("admin:accounts_bulkjob_import"), {"file": upload})
    seconds = time.monotonic() - started
    assert response.status_code == 302, response.status_code
    job = BulkJob.objects.latest("pk")
    return job, seconds, job.rows.count()


def measure_upload_at_limit(admin: User) -> dict:
    """Time the upload request of a file just under PORTAL_BULK_IMPORT_MAX_MB (stored, not read), then discard it."""
    line = b"someone.with.a.long.address.0000000@example.com,Some Person With A Long Name,b,1,crm;hr\n"
    count = (imports.limit_bytes() - 64) // len(line)
    data = b"email,name,role,level,applications\n" + line * count
    job, seconds, planned = _upload(admin, data)
    chunks = job.chunks.count()
    jobs.job_cancel(actor=admin, job=job)
    import_read_run.call(job_id=job.pk)  # finds it discarded: deletes the stored pieces
    return {
        "megabytes": round(len(data) / 1024 / 1024, 1),
        "lines": job.lines_total,
        "upload_request_seconds": round(seconds, 2),
        "rows_planned_in_request": planned,
        "chunks": chunks,
    }


def measure_preview(admin: User, rows: int) -> dict:
    """Time the upload request and the worker's dry run of `rows` rows (half known) while another writer writes."""
    seed_index(rows // 2)
    lines = [f"user{n:07d}@example.com,User {n},b,2,crm" for n in range(rows)]
    data = ("email,name,role,level,applications\n" + "\n".join(lines) + "\n").encode()
    waits: list = []
    stop = threading.Event()
    writer = threading.Thread(target=_other_writer, args=(waits, stop))
    writer.start()
    job, upload_seconds, planned_in_request = _upload(admin, data)
    with cognito.count_calls() as calls:
        started = time.monotonic()
        import_read_run.call(job_id=job.pk)  # the worker's task, run here
        seconds = time.monotonic() - started
    stop.set()
    writer.join()
    job.refresh_from_db()
    timings = [wait for wait in waits if isinstance(wait, float)]
    return {
        "rows": job.total,
        "megabytes": round(len(data) / 1024 / 1024, 1),
        "seconds": round(seconds, 2),
        "upload_request_seconds": round(upload_seconds, 2),
        "rows_planned_in_request": planned_in_request,
        "status": job.status,
        "rows_per_second": round(job.total / seconds),
        "cognito_calls": sum(calls.values()),
        "other_writes": len(waits),
        "other_write_longest_wait_s": round(max(timings, default=0), 3),
        "other_write_errors": sorted({wait for wait in waits if isinstance(wait, str)}),
        "database": connection.vendor,
    }


def print_table(results: dict) -> None:
    """Print the results as plain tables."""
    print(f"\nImport on moto's server, {SLOW * 1000:.0f} ms slower a request (new users: role B1 + crm)")
    print(
        f"{'scenario':52} {'rows':>5} {'sec':>7} {'rows/s':>7} {'bound':>6} {'ratio':>6} {'attempts':>8} "
        f"{'retries':>7} {'emulator':>8} {'status':>7}"
    )
    for label, run in results["import"].items():
        print(
            f"{label:52} {run['rows']:>5} {run['seconds']:>7} {run['rows_per_second']:>7} "
            f"{run['bound_rows_per_second']:>6} {run['ratio']:>6} {run['attempts']:>8} {run['retries']:>7} "
            f"{run['emulator_requests']:>8} {run['status']:>7}"
        )
        peaks = ", ".join(
            f"{c} {run['peak_per_second'][c]}/{run['share_per_second'][c]}" for c in sorted(run["peak_per_second"])
        )
        print(f"    limited by {run['limiting_category']}; peak per second / share: {peaks}")
    run = results["preview"]
    print(
        f"\nImport of {run['rows']:,} rows ({run['megabytes']} MB) on {run['database']}: the upload request "
        f"{run['upload_request_seconds']} s ({run['rows_planned_in_request']} rows planned in it); the worker's "
        f"preview (dry run) {run['seconds']} s, {run['rows_per_second']} rows/s, {run['cognito_calls']} Cognito calls; "
        f"another "
        f"writer meanwhile: {run['other_writes']} writes, longest wait {run['other_write_longest_wait_s']} s, "
        f"errors: {run['other_write_errors'] or 'none'}"
    )
    run = results["upload_at_limit"]
    print(
        f"Upload of a file at the limit ({run['megabytes']} MB, {run['lines']:,} lines): the request "
        f"{run['upload_request_seconds']} s ({run['rows_planned_in_request']} rows planned in it, {run['chunks']} "
        "pieces stored)"
    )
    export = results["export"]
    print("\nAccess review export, whole pool (tracemalloc peak while streaming)")
    for size, run in export["by_users"].items():
        print(
            f"  {int(size):>7} users: {run['rows']:>7} rows, {run['bytes'] / 1024:>9.0f} KiB out, "
            f"peak {run['peak_kib']:>8} KiB, {run['seconds']} s"
        )
    print(f"  peak ratio (largest / smallest): {export['peak_ratio']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and users (a smoke run)")
    parser.add_argument("--import-rows", type=int, default=0, help="new users in the main import (default 1,000; 100)")
    parsed = parser.parse_args()
    quick = parsed.quick
    admin, front = setup()
    rows, rerun = (100, 50) if quick else (1000, 200)
    rows = parsed.import_rows or rows
    results = {"import": {}, "quick": quick}
    first, second = people("a", rows), people("b", rerun)
    results["import"][f"{rows} new users, 1 worker"] = run_import(admin, front, first, workers=1)
    results["import"][f"{rows} the same file again (reads only), 1 worker"] = run_import(admin, front, first, workers=1)
    results["import"][f"{rerun} new users, 2 workers"] = run_import(admin, front, second, workers=2)
    results["import"][f"{rerun} new users, Cognito throttling UserUpdate at 12/s"] = run_import(
        admin, front, people("c", rerun), workers=1, limits={"UserUpdate": 12}
    )
    results["preview"] = measure_preview(admin, 100_000)  # the size that stopped make run (issue 11)
    results["upload_at_limit"] = measure_upload_at_limit(admin)
    results["export"] = measure_export(admin, [100, 10_000] if quick else [100, 100_000])
    results["jobs"] = BulkJob.objects.count()
    print_table(results)
    written = RESULTS.with_name("bulk-quick.json") if quick else RESULTS  # a smoke run keeps the full results
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {written.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
