"""`make bench` and `make load` keep working: the driver runs every benchmark module, the emulator speed-up
changes nothing the portal sees, the load test runs end to end and its invariants catch what they should."""

import json
import os
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from accounts import cognito
from accounts.models import AuditEvent
from accounts.rules import roles
from bench import emulator, load, run
from bench.emulator import fast_listing
from tests.support.staff import index_user

ROOT = Path(__file__).resolve().parent.parent


# --- The driver ---------------------------------------------------------------------------------------------


def test_the_driver_runs_every_benchmark_module_there_is():
    modules = {path.name for path in (ROOT / "bench").glob("*_bench.py")}
    assert modules <= {script for script, *_ in run.BENCHES.values()}, "add the new module to bench/run.py BENCHES"


def test_a_missing_module_is_reported_and_the_rest_still_runs(monkeypatch):
    monkeypatch.setitem(run.BENCHES, "future", ("future_bench.py", [], [], run.rows_directory))
    assert run.run_bench("future", quick=True) == {"status": run.MISSING, "script": "bench/future_bench.py"}
    calls, ratios = run.gather({"future": {"status": run.MISSING}})
    assert calls == [] and ratios == []


def test_results_in_an_unexpected_shape_are_reported_not_crashed_on():
    runs = {"directory": {"status": "measured", "script": "bench/directory_bench.py", "results": {"sync": {}}}}
    assert run.gather(runs) == ([], [])
    assert runs["directory"]["status"].startswith("not measured: unexpected results (KeyError")


# --- The emulator's fast paging -----------------------------------------------------------------------------


def test_fast_listing_changes_neither_the_calls_nor_what_they_return(pool):
    for number in range(130):  # three pages of users, and of one group's members
        user = cognito.user_create(f"u{number:03}@example.com", {"name": f"U {number}"}, send_invitation=False)
        if number % 2 == 0:
            cognito.user_add_to_group(user.sub, roles.group_for_application("billing"))
    readings = []
    for speed_up in (False, True):
        with cognito.count_calls() as calls, fast_listing() if speed_up else nullcontext():
            users = [user.sub for user in cognito.users_list(page_size=60)]
            members = [user.sub for user in cognito.users_in_group("app-billing", page_size=60)]
        readings.append((users, members, dict(calls)))
    assert readings[0] == readings[1]
    assert len(readings[0][0]) == 130 and len(readings[0][1]) == 65
    assert readings[0][2] == {"ListUsers": 3, "ListUsersInGroup": 2}


# --- The load test ---------------------------------------------------------------------------------------------


def test_make_load_runs_end_to_end_on_loopback_and_its_invariants_hold(tmp_path):
    results = tmp_path / "load.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DATABASE_", "LOAD_"))}
    done = subprocess.run(
        [sys.executable, "bench/load.py", "--seconds", "3", "--staff", "3", "--users", "10", "--results", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    document = json.loads(results.read_text())
    assert all(problems == [] for problems in document["invariants"].values())
    assert document["latency"]["sign-in"]["requests"] == 3 and document["latency"]["search"]["requests"] > 0
    assert sum(row["5xx"] for row in document["latency"].values()) == 0


@pytest.mark.django_db
def test_the_index_invariant_catches_a_row_that_differs_from_cognito(make_cognito_user):
    user = make_cognito_user("drift@example.com", role=("a", 1), apps=["billing"])
    index_user(user)
    assert load.check_index()[0] == []
    cognito.user_update_attributes(user.sub, roles.attributes_for(roles.Role("b", 2)))
    cognito.user_add_to_group(user.sub, roles.group_for_application("crm"))
    problems, users = load.check_index()
    assert users == 1
    assert f"{user.sub}: role is 'a' in the index, 'b' in Cognito" in problems
    assert f"{user.sub}: applications ['billing'] in the index, ['billing', 'crm'] in Cognito" in problems


@pytest.mark.django_db
def test_the_role_invariant_catches_several_roles_or_none(make_cognito_user):
    several = make_cognito_user("two@example.com", role=("a", 1))
    cognito.user_update_attributes(several.sub, {"custom:role_c": "2"})
    nothing = make_cognito_user("none@example.com", role=None)
    fine = make_cognito_user("one@example.com", role=("b", 3))
    assert load.check_roles({several.sub, nothing.sub, fine.sub}) == sorted(
        [f"{several.sub} holds ['A1', 'C2']", f"{nothing.sub} holds no role"]
    )


@pytest.mark.django_db
def test_the_audit_invariant_catches_a_missing_or_extra_event():
    from django.utils import timezone

    since = timezone.now()
    member = load.StaffMember("http://127.0.0.1:9", {"email": "desk@example.com", "standing": "helpdesk"}, [], 0, 1)
    member.writes.update({"role_change": 2})
    for action in ("sign_in", "role_change", "access_set"):
        AuditEvent.objects.create(actor="desk@example.com", action=action, outcome=AuditEvent.SUCCESS)
    assert load.check_audit([member], since) == [
        "desk@example.com role_change: 2 attempted, 1 audited",
        "desk@example.com access_set: 0 attempted, 1 audited",
    ]


def test_the_expiry_sweep_results_become_a_calls_row_and_ratios_against_the_bound():
    sweep = {
        "rows": 200,
        "late": 0,
        "rate_setting": 20,
        "rows_per_second": 9.7,
        "bound_rows_per_second": 10.0,
        "ratio_to_bound": 0.97,
        "calls_per_row": 2.0,
        "api_refused_before_sweep": "200 of 200 sampled",
    }
    calls, ratios = run.rows_expiry({"sweep": {"paced": sweep, "ceiling": {**sweep, "ratio_to_bound": 0.02}}})
    assert [row["calls"] for row in calls] == [2.0]
    assert [row["value"] for row in ratios] == [0.97, 0.02] and "bound 10.0" in ratios[0]["detail"]


def test_the_peak_per_second_is_the_most_requests_in_any_one_second():
    assert emulator.peak_per_second([]) == 0
    assert emulator.peak_per_second([0.0, 0.5, 0.99, 1.0, 1.2, 3.0]) == 4  # 0.5 .. 1.2
    assert emulator.peak_per_second([n / 16 for n in range(80)]) == 16  # 16/s exactly, for 5 s


def test_the_front_counts_every_request_and_throttles_a_category_above_its_limit():
    def moto(environ, start_response):
        start_response("200 OK", [])
        return [b"{}"]

    front = emulator.Front(moto, {"ListUsers": "UserList", "AdminGetUser": "UserRead"})
    front.reset(limits={"UserList": 2})
    answers = []
    for operation in ["ListUsers", "ListUsers", "AdminGetUser", "ListUsers"]:
        environ = {"PATH_INFO": "/", "HTTP_X_AMZ_TARGET": f"AWSCognitoIdentityProviderService.{operation}"}
        body = front(environ, lambda status, headers: answers.append(status))
    assert answers == ["200 OK", "200 OK", "200 OK", "400 Bad Request"]
    assert b"TooManyRequestsException" in b"".join(body)
    assert front.counts() == {"ListUsers": 3, "AdminGetUser": 1} and front.throttled == {"ListUsers": 1}
