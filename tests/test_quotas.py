"""Pacing by Cognito quota category: the bucket's arithmetic, its rows, AIMD, the settings, counting attempts."""

import re
from pathlib import Path

import botocore.session
import pytest
from django.core.exceptions import ImproperlyConfigured

from accounts import cognito, tasks
from accounts.bulk import engine as bulk
from accounts.bulk import jobs
from accounts.cognito import quotas
from accounts.directory import services
from portal.settings import base
from tests.bulk import preview
from tests.faults import cognito_fault

ROOT = Path(__file__).resolve().parent.parent


def new_people(count: int) -> bytes:
    """Return a file of `count` new users with role B1 and crm."""
    lines = [f"person{n}@example.com,Person {n},b,1,crm" for n in range(count)]
    return ("email,name,role,level,applications\n" + "\n".join(lines) + "\n").encode()


# --- The categories and the settings -------------------------------------------------------------------


def _operations_called() -> set[str]:
    """Return the botocore names of every operation the portal's code calls (read from the source)."""
    model = botocore.session.get_session().get_service_model("cognito-idp")
    names = {xform: name for name in model.operation_names for xform in [re.sub(r"(?<!^)(?=[A-Z])", "_", name)]}
    by_snake = {key.lower().replace("m_f_a", "mfa"): value for key, value in names.items()}
    found = set()
    for path in (ROOT / "accounts").rglob("*.py"):
        found |= set(re.findall(r'(?:call|paginate)\(\s*"([a-z_]+)"', path.read_text()))
    return {by_snake[name] for name in found}


def test_every_operation_the_portal_calls_has_a_quota_category_with_a_default_quota():
    called = _operations_called()
    assert {"AdminCreateUser", "ListUsers", "AdminAddUserToGroup", "AdminSetUserMFAPreference"} <= called
    assert {operation for operation in called if not quotas.category_of(operation)} == set()
    assert set(quotas.OPERATIONS) <= set(base.COGNITO_DEFAULT_QUOTAS)


def test_the_quotas_setting_raises_named_categories_and_keeps_the_defaults(monkeypatch):
    monkeypatch.setenv("PORTAL_COGNITO_QUOTAS", " UserCreation=100 , UserList = 60,")
    found = base.env_quotas("PORTAL_COGNITO_QUOTAS", base.COGNITO_DEFAULT_QUOTAS)
    assert found == {**base.COGNITO_DEFAULT_QUOTAS, "UserCreation": 100, "UserList": 60}


@pytest.mark.parametrize(
    "value, named",
    [("UserCreations=100", "'UserCreations'"), ("UserCreation=0", "UserCreation"), ("UserList=-5", "UserList")],
    ids=["unknown category", "zero", "negative"],
)
def test_the_quotas_setting_refuses_an_unknown_category_or_a_non_positive_quota(monkeypatch, value, named):
    monkeypatch.setenv("PORTAL_COGNITO_QUOTAS", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        base.env_quotas("PORTAL_COGNITO_QUOTAS", base.COGNITO_DEFAULT_QUOTAS)
    assert "PORTAL_COGNITO_QUOTAS" in str(refused.value) and named in str(refused.value)


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2", "most"])
def test_the_share_setting_refuses_anything_but_a_share(monkeypatch, value):
    monkeypatch.setenv("PORTAL_COGNITO_QUOTA_SHARE", value)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_COGNITO_QUOTA_SHARE"):
        base.env_share("PORTAL_COGNITO_QUOTA_SHARE", "0.8")


def test_a_category_runs_at_the_share_of_its_quota(settings):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserResourceUpdate": 25}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.8
    assert quotas.category_rate("UserResourceUpdate") == pytest.approx(20)


# --- The bucket's arithmetic (a clock of numbers) -----------------------------------------------------------


def test_background_slots_are_one_interval_apart_and_each_waits_for_its_own():
    bucket, waits = quotas.fresh(100.0), []
    for _ in range(4):
        bucket, wait = quotas.take(bucket, now=100.0, per_second=4, wait=True)
        waits.append(wait)
    step = quotas.interval(4)  # a little under the rate, for calls sent late
    assert waits == pytest.approx([0, step, 2 * step, 3 * step]) and bucket.next_at == pytest.approx(100 + 4 * step)
    bucket, wait = quotas.take(bucket, now=105.0, per_second=4, wait=True)  # an idle bucket saves up no burst
    assert wait == 0 and bucket.next_at == pytest.approx(105 + step)


def test_a_web_request_never_waits_but_pushes_background_work_back_at_most_the_debt():
    bucket = quotas.fresh(0.0)
    for _ in range(3):
        bucket, wait = quotas.take(bucket, now=0.0, per_second=5, wait=False)
        assert wait == 0
    _, background = quotas.take(bucket, now=0.0, per_second=5, wait=True)
    assert background == pytest.approx(3 * quotas.interval(5))  # three web calls used the first three slots
    for _ in range(50):
        bucket, _ = quotas.take(bucket, now=0.0, per_second=5, wait=False)
    assert bucket.next_at == pytest.approx(quotas.DEBT)


def test_a_web_request_never_pulls_a_background_schedule_forward():
    bucket = quotas.Bucket(next_at=3.0, updated_at=0.0)
    bucket, _ = quotas.take(bucket, now=0.0, per_second=5, wait=False)
    assert bucket.next_at == 3.0


def test_a_throttle_halves_the_rate_once_a_second_and_it_comes_back_additively_to_the_share():
    bucket = quotas.throttled(quotas.fresh(10.0), now=10.0)
    assert bucket.factor == pytest.approx(0.5)
    bucket = quotas.throttled(bucket, now=10.5)  # the same burst of throttles
    assert bucket.factor == pytest.approx(0.5 + 0.025)
    bucket = quotas.throttled(bucket, now=11.0)
    assert bucket.factor == pytest.approx((0.525 + 0.025) / 2)
    bucket, _ = quotas.take(bucket, now=11.0, per_second=10, wait=True)
    _, wait = quotas.take(bucket, now=11.0, per_second=10, wait=True)
    assert wait == pytest.approx(quotas.interval(10 * 0.275))  # slots spaced at the reduced rate
    assert quotas.recovered(bucket, 15.0) == pytest.approx(0.475) and quotas.recovered(bucket, 40.0) == 1.0


def test_throttles_never_take_the_rate_below_the_floor():
    bucket = quotas.fresh(0.0)
    for second in range(20):
        bucket = quotas.throttled(bucket, now=float(second))
    assert bucket.factor == pytest.approx(quotas.FLOOR)


# --- The buckets' rows (SQLite here; the CI's PostgreSQL run takes the other path) --------------------


def test_the_stored_buckets_space_background_slots_by_category(settings, quota_clock):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserCreation": 10, "UserRead": 100}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.5
    waits = [cognito.buckets.slot_take("UserCreation", wait=True) for _ in range(3)]
    reads = [cognito.buckets.slot_take("UserRead", wait=True) for _ in range(3)]
    step, read = quotas.interval(5), quotas.interval(50)
    assert waits == pytest.approx([0, step, 2 * step]) and reads == pytest.approx([0, read, 2 * read])
    assert cognito.bucket_state("UserCreation").next_at == pytest.approx(3 * step)


def test_a_web_request_s_calls_count_against_the_bucket_without_waiting(settings, pool, quota_clock):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserList": 10}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.5
    with cognito.budget(10):
        for _ in range(3):
            list(cognito.users_list())
    assert quota_clock.waits == []  # a person never waits for a slot
    assert cognito.bucket_state("UserList").next_at == pytest.approx(3 * quotas.interval(5))
    with cognito.quota_paced():
        list(cognito.users_list())
    assert quota_clock.waits == pytest.approx([3 * quotas.interval(5)])  # background work leaves them the room used


def test_calls_outside_background_work_and_web_requests_take_no_slot(settings, pool, quota_clock):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserList": 10}
    list(cognito.users_list())
    assert cognito.bucket_state("UserList").next_at == 0.0


# --- Attempts, retries and throttling -------------------------------------------------------------------------


def test_the_counters_count_every_attempt_and_retries_apart_simulated(pool, no_backoff):
    with (
        cognito.count_calls() as calls,
        cognito.count_retries() as retries,
        cognito_fault(operations={"ListUsers"}, times=2) as failed,
    ):
        list(cognito.users_list())
    assert failed == ["ListUsers", "ListUsers"]
    assert calls["ListUsers"] == 3 and retries["ListUsers"] == 2


def test_a_budgeted_retry_is_counted_as_an_attempt_simulated(pool, no_backoff):
    faulty = cognito_fault(operations={"ListUsers"}, times=1)
    with cognito.count_calls() as calls, cognito.count_retries() as retries, cognito.budget(10), faulty:
        list(cognito.users_list())
    assert calls["ListUsers"] == 2 and retries["ListUsers"] == 1


def test_throttling_in_background_work_slows_that_bucket_and_fails_no_row_simulated(
    admin_user, settings, quota_clock, no_backoff
):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserCreation": 10}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.5
    job = preview(admin_user, new_people(3))
    jobs.job_start(actor=admin_user, job=job, background=False)
    with cognito.count_retries() as retries, cognito_fault(operations={"AdminCreateUser"}, after=1, times=1):
        tasks.bulk_work(job_id=job.pk, actor_id=admin_user.pk)
    assert bulk.progress(job)["created"] == 3 and retries == {"AdminCreateUser": 1}
    assert cognito.bucket_state("UserCreation").factor < 1  # halved at the throttle, recovering since
    assert cognito.bucket_state("UserList").factor == 1.0  # the other categories are untouched
    assert max(quota_clock.waits) > 1 / 5  # the slots after the throttle were further apart than the share's


# --- One worker, several threads --------------------------------------------------------------------------------


# A worker's threads applying each row exactly once, killed or stopped, is tests/test_bulk_worker.py's (real
# worker processes on a SQLite file: the in-memory test database locks whole tables between threads).


def test_a_limit_is_shared_by_the_threads_of_a_run():
    allowance = bulk.Allowance(4)
    assert [allowance.take() for _ in range(6)] == [True] * 4 + [False] * 2
    assert all(bulk.Allowance(None).take() for _ in range(100))


def test_a_run_inside_a_web_request_uses_one_thread(settings):
    settings.PORTAL_BULK_THREADS = 4
    assert bulk.threads_for_run() == 4
    with cognito.budget(10):
        assert bulk.threads_for_run() == 1


def test_the_sync_reports_its_retries_among_its_calls_simulated(db, pool, make_cognito_user, no_backoff):
    make_cognito_user("eve@example.com")
    with cognito.count_calls() as counted, cognito_fault(operations={"ListUsers"}, times=1):
        report = services.directory_sync(actor="test")
    assert report.calls == sum(counted.values()) == report.minimum_calls + report.staff_calls + 1


@pytest.mark.parametrize(
    ("operation", "category"),
    [
        ("AdminAddUserToGroup", "UserUpdate"),  # group membership is a user update, not a user resource
        ("AdminRemoveUserFromGroup", "UserUpdate"),
        ("AdminUserGlobalSignOut", "UserUpdate"),
        ("AdminSetUserPassword", "UserAccountRecovery"),
        ("AdminSetUserMFAPreference", "UserResourceUpdate"),
        ("AdminListGroupsForUser", "UserResourceRead"),
        ("CreateUserPool", "UserPoolUpdate"),
        ("CreateUserPoolClient", "UserPoolClientUpdate"),
        ("DescribeUserPoolClient", "UserPoolClientRead"),
    ],
)
def test_operations_count_against_the_category_aws_lists_them_in(operation, category):
    assert quotas.category_of(operation) == category


@pytest.mark.parametrize("rate", [2, 2.5, 4, 19.2, 20, 24, 30, 35, 40, 96, 120])
def test_no_second_holds_more_calls_than_the_rate_even_with_one_sent_late(rate):
    step = quotas.interval(rate)
    slots = [n * step for n in range(int(10 * rate))]
    sent = sorted([slots[0] + step * 0.99, *slots[1:]])  # the first call sent late, just before the second's slot
    busiest = max(sum(1 for at in sent if start - 1 < at <= start) for start in sent)
    assert busiest <= rate and step >= 1 / (rate * quotas.HEADROOM) - 1e-12  # and always a little under it


def test_a_background_call_woken_too_late_takes_the_next_slot_once(settings, pool, quota_clock, monkeypatch):
    settings.PORTAL_COGNITO_QUOTAS = {**settings.PORTAL_COGNITO_QUOTAS, "UserList": 10}
    settings.PORTAL_COGNITO_QUOTA_SHARE = 0.5
    step, overslept = quotas.interval(5), []

    def oversleeping(seconds):
        """Sleep as the clock says, the first time 0.2 s longer (a busy machine)."""
        quota_clock.sleep(seconds)
        if not overslept:
            overslept.append(0.2)
            quota_clock.now += 0.2

    monkeypatch.setattr(cognito.client, "_pause", oversleeping)
    monkeypatch.setattr(cognito.client.time, "monotonic", lambda: quota_clock.now)
    with cognito.quota_paced():
        for _ in range(2):
            list(cognito.users_list())
    # The second call's slot was at 1 step; woken 0.2 s late, it took the next free one, at 2 steps, and went.
    assert quota_clock.waits == pytest.approx([step, 2 * step - (step + 0.2)])
    assert cognito.bucket_state("UserList").next_at == pytest.approx(3 * step)
