"""`make bench`: run every benchmark module there is, then print one table and write it as JSON.

    .venv/bin/python bench/run.py [--quick]

Each module runs in its own process (each configures Django and its emulator when it starts) and writes
bench/results/<name>.json; this driver reads those files and gathers, in one run:
- Cognito calls per operation: sign-in, an ordinary page, the directory page, the user page, a role change,
  a grant of k applications, an access check, a sync; the scheduled sync carrying a console change to the API
  at 1,000 and 10,000 users (the freshness bound);
- ratios: the directory page against live listing and the sync against the minimum of list calls, at
  10,000 and 100,000 users; token verification against a bare PyJWT decode; the access check against
  verification alone; import rows per second against the configured rate.
A module that is not there (yet) is reported as "not measured: module missing", and the rest still runs.
Writes bench/results/bench.json; each module's output goes to bench/results/<name>.log.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MISSING = "not measured: module missing"


def rows_directory(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/directory_bench.py's results."""
    wanted = {
        "list page": "directory page",
        "list page, search and filter": "directory page, search and filter",
        "user page": "user page",
        "role change": "role change",
    }
    ops = data["calls_per_operation"]
    calls = [call_row(label, ops[key]) for key, label in wanted.items()]
    calls += [call_row(key, value) for key, value in ops.items() if key.startswith("grant of")]
    calls += [call_row(key, value) for key, value in ops.items() if key not in wanted and not key.startswith("grant")]
    sync = data["sync"]["first run (index filled)"]
    calls.append(call_row(f"sync ({sync['users']:,} users)", sync["by_operation"]))
    ratios = []
    for size, pages in data["list_page"].items():
        live = pages["live: ListUsers + AdminListGroupsForUser x50"]
        ratios.append(
            ratio_row(
                "live listing / directory page",
                int(size),
                pages["ratio live / index first page"],
                f"{live['median_ms']:.0f} ms / {pages['index: first page']['median_ms']:.1f} ms",
            )
        )
    ratios.append(sync_ratio(sync))
    return calls, ratios


def rows_portal(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/portal_bench.py's results."""
    calls = []
    for label, row in data["calls_per_operation"].items():
        extra = f"+ {row['jwks_downloads']} JWKS download (once per process)" if row["jwks_downloads"] else ""
        calls.append(call_row(label, row["calls"], extra))
    check = data["token_verification"]
    portal, bare = (value for value in check.values() if isinstance(value, dict))
    ratios = [
        ratio_row(
            "token verification / bare PyJWT decode",
            None,
            check["ratio"],
            f"{portal['best_us']:.0f} us / {bare['best_us']:.0f} us per token (best of 9 rounds), keys cached",
        ),
        sync_ratio(data["sync"]),
    ]
    calls.append(call_row(f"sync ({data['sync']['users']:,} users)", data["sync"]["by_operation"]))
    return calls, ratios


def rows_access(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/access_bench.py's results."""
    api = data["results"]["access-check API (portal)"]
    calls = [
        {
            "operation": "access check",
            "calls": api["cognito_requests_per_check"],
            "by_operation": {},
            "note": f"{api['cognito_requests']} emulator requests over {api['requests']} checks",
        }
    ]
    alone = data["results"]["token verification alone"]
    ratios = [
        ratio_row(
            "access check / token verification alone (throughput)",
            None,
            data["throughput_ratio_api_over_verification"],
            f"{api['per_second']} / {alone['per_second']} requests/s, one worker (best rounds; median rounds "
            f"{data.get('throughput_ratio_median_rounds', '-')})",
        )
    ]
    if every := data["results"].get("access check, every token verified"):
        ratios.append(
            ratio_row(
                "access check, every token verified / token verification alone (throughput)",
                None,
                data["throughput_ratio_every_token_verified"],
                f"{every['per_second']} / {alone['per_second']} requests/s, PORTAL_ACCESS_CHECK_VERIFIED_TOKENS=0 "
                f"(best rounds; median rounds {data['throughput_ratio_every_token_verified_median_rounds']})",
            )
        )
    if "verification" in data:
        check = data["verification"]
        ratios.append(
            ratio_row(
                "access check's token verification / bare PyJWT decode",
                None,
                check["ratio"],
                f"{check['verify_any']['best_us']:.0f} us / {check['bare_decode']['best_us']:.0f} us per token "
                f"(best of {check['rounds']} rounds), keys cached",
            )
        )
    use = data.get("use_recording_statements")
    if use:
        calls.append(
            {
                "operation": "access check: recording last use (DB statements, not Cognito calls)",
                "calls": round(use["statements"] / use["checks"], 4),
                "by_operation": {},
                "note": f"first check of each of {use['users']} users: {use['statements']} statements, "
                f"{use['rows']} rows; the same checks within the minute: {use['statements_repeat']}",
            }
        )
    return calls, ratios


def rows_bulk(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/bulk_bench.py's results: imports against their quota bound."""
    calls, ratios = [], []
    for label, run in data["import"].items():
        peaks = ", ".join(
            f"{category} {run['peak_per_second'][category]} of {run['share_per_second'][category]}"
            for category in sorted(run["peak_per_second"])
        )
        ratios.append(
            ratio_row(
                f"import rows/s / bound of the quotas x share: {label}",
                None,
                run["ratio"],
                f"{run['rows_per_second']} / {run['bound_rows_per_second']} rows/s ({run['limiting_category']}), "
                f"{run['workers']} worker(s) x {run['threads']} threads, {run['latency_s'] * 1000:.0f} ms a request; "
                f"peak/s: {peaks}; {run['attempts']} attempts ({run['retries']} retries), emulator counted "
                f"{run['emulator_requests']} ({'equal' if run['counts_agree'] else 'NOT equal'}); "
                f"{run['failed']} failed",
            )
        )
        if not calls:
            calls.append(
                {
                    "operation": "import, one new user (role and an application)",
                    "calls": sum(run["calls_per_row"].values()),
                    "by_operation": run["calls_per_row"],
                    "note": f"mean over {run['rows']} rows, by quota category",
                }
            )
    if "preview" in data:
        run = data["preview"]
        calls.append(
            {
                "operation": f"import preview (dry run), {run['rows']:,} rows",
                "calls": run["cognito_calls"],
                "by_operation": {},
                "note": f"upload request {run.get('upload_request_seconds', '?')} s "
                f"({run.get('rows_planned_in_request', '?')} rows planned in it); the worker's preview "
                f"{run['seconds']} s ({run['rows_per_second']} rows/s, "
                f"{run['database']}); another writer's longest wait meanwhile "
                f"{run['other_write_longest_wait_s']} s, errors: {run['other_write_errors'] or 'none'}",
            }
        )
    return calls, ratios


def rows_freshness(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/freshness_bench.py's results: a console change to the API's answer."""
    calls, ratios = [], []
    for run in data["runs"]:
        calls.append(
            call_row(
                f"sync on the schedule, console change to the API's answer ({run['users']:,} users)",
                run["by_operation"],
                f"{run['seconds']} s at {run['rate_per_second']:g} calls/s",
            )
        )
        ratios.append(
            ratio_row(
                "freshness bound (s): interval + worker poll + sync and check",
                run["users"],
                round(run["bound_seconds"], 1),
                f"{run['interval_seconds']} + 1 + {run['seconds']} s; embedded (300 s): "
                f"{run['bound_seconds_embedded']:.0f} s",
            )
        )
    return calls, ratios


def rows_expiry(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/expiry_bench.py's results: grants ending at once, swept."""
    calls, ratios = [], []
    for name, run in data["sweep"].items():
        kind = "at the configured quotas" if name == "paced" else "at 1,000 calls/s a category (the sweep's ceiling)"
        if name == "paced":
            calls.append(call_row(f"expiry sweep, {run['rows']:,} grants ending at once (per row)", {}, ""))
            calls[-1]["calls"] = run["calls_per_row"]
        ratios.append(
            ratio_row(
                f"expiry sweep rows/s / pacing bound ({kind})",
                run["rows"],
                run["ratio_to_bound"],
                f"{run['rows_per_second']} rows/s, bound {run['bound_rows_per_second']} (buckets {run['rate_setting']} "
                f"calls/s, {run['calls_per_row']} calls a row); API refused before the sweep: "
                f"{run['api_refused_before_sweep']}; late {run['late']}",
            )
        )
    return calls, ratios


def rows_events(data: dict) -> tuple[list, list]:
    """Return (calls, ratios) rows from bench/events_bench.py's results: change to acknowledgement, throughput."""
    detail = (
        f"{data['changes']:,} changes, {data['subscribers']} subscribers ({data['failing_subscribers']} answering "
        f"500: {data['failing_attempts']} attempts, back-off), {data['acknowledged']}/{data['expected']} acknowledged"
    )
    ratios = [
        ratio_row("event delivery p50 (s): change to acknowledgement", None, data["p50_seconds"], detail),
        ratio_row("event delivery p95 (s): change to acknowledgement", None, data["p95_seconds"], detail),
        ratio_row(
            "event deliveries acknowledged per second",
            None,
            data["deliveries_per_second"],
            f"changes written at {data['changes_per_second']}/s; {data['senders']} senders",
        ),
    ]
    if "backlog" in data:
        drained = data["backlog"]
        ratios.append(
            ratio_row(
                "event deliveries per second draining a backlog",
                None,
                drained["deliveries_per_second"],
                f"{drained['acknowledged']} acknowledged after {drained['changes']:,} changes queued; "
                f"p95 {drained['p95_seconds']} s",
            )
        )
    return [], ratios


def call_row(operation: str, by_operation: dict, note: str = "") -> dict:
    """Return one row of the calls table."""
    return {"operation": operation, "calls": sum(by_operation.values()), "by_operation": by_operation, "note": note}


def ratio_row(name: str, users: int | None, value: float, detail: str) -> dict:
    """Return one row of the ratios table."""
    return {"ratio": name, "users": users, "value": value, "detail": detail}


def sync_ratio(sync: dict) -> dict:
    """Return the sync-against-minimum row of one sync run."""
    return ratio_row(
        "sync calls / minimum",
        sync["users"],
        round(sync["calls"] / sync["minimum_calls"], 4),
        f"{sync['calls']} / {sync['minimum_calls']} (+{sync['staff_group_calls']} staff groups), {sync['seconds']} s",
    )


# name: (script, options, options with --quick, how to read its results). The bulk bench runs its --quick sizes
# (the 100,000-row preview, a 10,000-user export) with the import of 1,000 new users (and the same file again)
# that the issue asks for, with --quick too (a 100-row job is a few seconds, where starting weighs); `--bulk-full`
# runs every full size.
BENCHES = {
    "directory": ("directory_bench.py", [], ["--quick"], rows_directory),
    "portal": ("portal_bench.py", [], ["--quick"], rows_portal),
    # Rounds of half a second alternate between the targets: 12 of each with --quick, so one slow round weighs little.
    "access": ("access_bench.py", ["--seconds", "10"], ["--seconds", "6"], rows_access),
    "bulk": ("bulk_bench.py", ["--quick", "--import-rows", "1000"], ["--quick", "--import-rows", "1000"], rows_bulk),
    "freshness": ("freshness_bench.py", [], ["--quick"], rows_freshness),
    # 10,000 ends at the configured quotas take minutes of moto's sign-out scans: `make bench` runs --quick.
    "expiry": ("expiry_bench.py", ["--quick"], ["--quick"], rows_expiry),
    "events": ("events_bench.py", [], ["--quick"], rows_events),
}


def results_file(name: str, options: list[str]) -> Path:
    """Return where a module writes its results (bulk_bench keeps a quick run apart from its full one)."""
    return RESULTS / (f"{name}-quick.json" if name == "bulk" and "--quick" in options else f"{name}.json")


def run_bench(name: str, quick: bool, options: list[str] | None = None) -> dict:
    """Run one benchmark module in its own process; return its status, duration and results."""
    script, default, quick_options, _ = BENCHES[name]
    path = ROOT / "bench" / script
    if not path.exists():
        return {"status": MISSING, "script": f"bench/{script}"}
    options = options if options is not None else quick_options if quick else default
    command = [sys.executable, str(path), *options]
    log = RESULTS / f"{name}.log"
    print(f"running {' '.join([Path(command[0]).name, *command[1:]])} (output: {log.relative_to(ROOT)})", flush=True)
    started = time.monotonic()
    with log.open("w") as output:
        code = subprocess.run(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        ).returncode
    seconds = round(time.monotonic() - started, 1)
    if code:
        tail = log.read_text().splitlines()[-15:]
        print("\n".join("    " + line for line in tail))
        return {"status": f"not measured: failed (exit {code}), see {log.relative_to(ROOT)}", "seconds": seconds}
    return {
        "status": "measured",
        "seconds": seconds,
        "script": f"bench/{script}",
        "results": json.loads(results_file(name, options).read_text()),
    }


ORDER = [
    "sign-in",
    "ordinary page",
    "directory page",
    "user page",
    "role change",
    "grant",
    "same grant",
    "revoke",
    "access check",
    "sync",
]


def order(row: dict) -> tuple:
    """Sort the calls table in the issue's order of operations, then the rest."""
    ranks = [rank for rank, prefix in enumerate(ORDER) if row["operation"].startswith(prefix)]
    return (ranks[0] if ranks else len(ORDER), row.get("users", 0))


def gather(runs: dict) -> tuple[list, list]:
    """Return every bench's calls and ratio rows, marking the ones whose results could not be read."""
    calls, ratios = [], []
    for name, run in runs.items():
        if run["status"] != "measured":
            continue
        try:
            more_calls, more_ratios = BENCHES[name][3](run["results"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            run["status"] = f"not measured: unexpected results ({exc.__class__.__name__}: {exc})"
            continue
        calls += [{**row, "source": run["script"]} for row in more_calls]
        ratios += [{**row, "source": run["script"]} for row in more_ratios]
    return sorted(calls, key=order), sorted(ratios, key=lambda row: (row["ratio"], row["users"] or 0))


def print_tables(document: dict) -> None:
    """Print the gathered tables."""
    print("\nCognito calls per operation")
    print(f"  {'operation':55} {'calls':>6}  by operation")
    for row in document["calls_per_operation"]:
        detail = ", ".join(f"{op} {n}" for op, n in row["by_operation"].items()) or "-"
        print(f"  {row['operation']:55} {row['calls']:>6}  {detail}  {row['note']}".rstrip())
    print("\nRatios")
    print(f"  {'ratio':55} {'users':>8} {'value':>9}  detail")
    for row in document["ratios"]:
        users = f"{row['users']:,}" if row["users"] else "-"
        print(f"  {row['ratio']:55} {users:>8} {row['value']:>9}  {row['detail']}")
    print("\nModules")
    for name, run in document["benches"].items():
        took = f" in {run['seconds']} s" if "seconds" in run else ""
        print(f"  {name:10} {run['status']}{took}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller pools (1,000 and 10,000) and shorter loads")
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), help="run only these modules")
    parser.add_argument("--bulk-full", action="store_true", help="the bulk bench's full sizes")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runs = {
        name: run_bench(name, args.quick, [] if name == "bulk" and args.bulk_full else None)
        for name in (args.only or BENCHES)
    }
    calls, ratios = gather(runs)
    document = {
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "calls_per_operation": calls,
        "ratios": ratios,
        "benches": {name: {key: value for key, value in run.items() if key != "results"} for name, run in runs.items()},
        "sources": {name: run["results"] for name, run in runs.items() if "results" in run},
    }
    (RESULTS / "bench.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    print_tables(document)
    print(f"\nWritten to {(RESULTS / 'bench.json').relative_to(ROOT)} in {document['seconds']} s")
    if any(run["status"].startswith("not measured: failed") for run in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
