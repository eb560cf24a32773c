"""The client: one boto3 session, clients built lazily, time budgets, retries, hooks, counting, and `call`.

Inside a budget (every web request has one, see `budget`) calls share one deadline: each
attempt's timeouts fit in what is left and the gateway retries itself with short back-offs;
outside one (workers, commands) botocore's standard retries apply, with their long back-offs.
The module-level state here (clients, hooks, counters, the deadline, the target) exists once.
"""

import functools
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from accounts.cognito.buckets import buckets_close, slot_take, slot_throttled
from accounts.cognito.errors import (
    ERRORS,
    CognitoError,
    CognitoFault,
    CognitoTimeout,
    CognitoUnavailable,
    Throttled,
)
from accounts.cognito.quotas import category_of, category_rate, interval
from accounts.cognito.types import CallAttempt

logger = logging.getLogger("accounts.cognito")
_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_hooks: list[tuple[str, Any, bool]] = []  # handlers given to on_event, put on every client built
_listeners: list[Counter] = []
_retry_listeners: list[Counter] = []
_retrying: ContextVar[bool] = ContextVar("cognito_retrying", default=False)
LATE_SECONDS = 0.005  # a background call woken later than this (and half its interval) after its slot takes another
_pause = time.sleep  # a background call's wait for its quota slot (tests of the budget move _sleep, not this)


def _call_started(**_kwargs) -> None:
    """Note that this thread starts a call: its HTTP attempts are counted from here."""
    _pacing.attempt = 0


def _attempt(event_name: str, **_kwargs) -> None:
    """Count one HTTP attempt (retries included, as Cognito counts them), run the pacer, take a quota slot."""
    operation = event_name.rsplit(".", 1)[-1]
    _pacing.attempt = getattr(_pacing, "attempt", 0) + 1
    for counter in list(_listeners):
        counter[operation] += 1
    if _retrying.get() or _pacing.attempt > 1:
        for counter in list(_retry_listeners):
            counter[operation] += 1
    pacer = getattr(_pacing, "pacer", None)
    if pacer is not None:
        pacer(operation)
    _quota_take(operation)


def _metered() -> bool | None:
    """Return True when this thread's calls wait for their quota slot, False when they only take one, else None.

    Background work in quota_paced() waits; a web request (inside a budget) never waits but counts against the
    same buckets; anything else (tests, commands outside background work) is not metered.
    """
    if getattr(_pacing, "quota", False):
        return True
    return False if _deadline.get() is not None else None


def _quota_take(operation: str) -> None:
    """Take this attempt's slot in its category's bucket, waiting for it in background work."""
    category, metered = category_of(operation), _metered()
    if not category or metered is None:
        return
    if not metered:
        _quietly(slot_take, category, wait=False)
        return
    wait = slot_take(category, wait=True)
    for retake in (True, False):
        if wait <= 0:
            return
        due = time.monotonic() + wait
        _pause(wait)
        if not retake or time.monotonic() - due <= max(interval(category_rate(category)) / 2, LATE_SECONDS):
            return
        # Woken too late (a busy machine): sent now, it would share a second with the slots after its own.
        wait = slot_take(category, wait=True)


def _quietly(function, *args, **kwargs) -> None:
    """Run a web request's bucket bookkeeping; a fault there (the database's) must never fail the person's request."""
    try:
        function(*args, **kwargs)
    except Exception:  # bookkeeping only: whatever went wrong, the call itself goes ahead
        logger.warning("the Cognito quota buckets could not be updated; the call goes ahead", exc_info=True)


def _attempt_answered(response=None, operation=None, **_kwargs) -> None:
    """Slow the operation's bucket when Cognito throttled this attempt (retried or not)."""
    code = ((response or (None, {}))[1] or {}).get("Error", {}).get("Code", "")
    category = category_of(getattr(operation, "name", ""))
    if ERRORS.get(code) is Throttled and category and _metered() is not None:
        _quietly(slot_throttled, category)


@functools.cache
def _session() -> boto3.session.Session:
    """Return the one boto3 session clients are built from: it loads the service model once."""
    return boto3.session.Session()


def _build(connect_timeout: float, read_timeout: float, attempts: int):
    """Return the cognito-idp client with these timeouts and botocore attempts, built once."""
    key = (settings.COGNITO_REGION, settings.COGNITO_ENDPOINT_URL, connect_timeout, read_timeout, attempts)
    with _lock:
        if key not in _clients:
            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "total_max_attempts": attempts},
                max_pool_connections=max(10, 2 * settings.PORTAL_BULK_THREADS),  # a worker's threads share it
            )
            built = _session().client(
                "cognito-idp",
                region_name=settings.COGNITO_REGION,
                endpoint_url=settings.COGNITO_ENDPOINT_URL,
                config=config,
            )
            built.meta.events.register("before-call.cognito-idp", _call_started)
            built.meta.events.register_first("before-send.cognito-idp", _attempt)
            built.meta.events.register("needs-retry.cognito-idp", _attempt_answered)
            for event, handler, first in _hooks:
                (built.meta.events.register_first if first else built.meta.events.register)(event, handler)
            _clients[key] = built
        return _clients[key]


def background_client():
    """Return the client of background work: the configured timeouts and botocore's standard retries."""
    return _build(settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT, settings.COGNITO_MAX_ATTEMPTS)


def reset_client() -> None:
    """Forget every built client and handler, so the next call builds a fresh client (from the same session)."""
    with _lock:
        _clients.clear()
        _hooks.clear()


@contextmanager
def count_calls() -> Iterator[Counter]:
    """Count Cognito HTTP attempts by operation name while the block runs (retries included, as Cognito sees them)."""
    with _listening(_listeners) as counter:
        yield counter


@contextmanager
def count_retries() -> Iterator[Counter]:
    """Count the attempts that were retries (botocore's or a budget's), by operation name, while the block runs."""
    with _listening(_retry_listeners) as counter:
        yield counter


@contextmanager
def _listening(listeners: list[Counter]) -> Iterator[Counter]:
    """Add a counter to `listeners` while the block runs."""
    counter: Counter = Counter()
    listeners.append(counter)
    try:
        yield counter
    finally:
        listeners.remove(counter)


_pacing = threading.local()


@contextmanager
def _thread_value(name: str, value) -> Iterator:
    """Set one of this thread's pacing values while the block runs; yield the one it replaced."""
    previous = getattr(_pacing, name, None)
    setattr(_pacing, name, value)
    try:
        yield previous
    finally:
        setattr(_pacing, name, previous)


@contextmanager
def pace(pacer) -> Iterator[None]:
    """Call pacer(operation) before each Cognito attempt this thread makes in the block (the sync's lease)."""
    with _thread_value("pacer", pacer):
        yield


@contextmanager
def quota_paced() -> Iterator[None]:
    """Make every Cognito attempt this thread makes in the block wait for a slot of its quota category.

    Background work (imports, bulk actions, the sync, sweeps, review campaigns) runs inside it, in each of its
    threads; the buckets are shared by every worker on every machine (accounts/cognito/quotas.py).
    """
    with _thread_value("quota", True) as outer:
        try:
            yield
        finally:
            if not outer:
                buckets_close()


def on_event(event: str, handler, *, first: bool = False) -> None:
    """Register a botocore event handler on every client, built or to be built (tests simulate faults so)."""
    with _lock:
        _hooks.append((event, handler, first))
        for built in _clients.values():
            (built.meta.events.register_first if first else built.meta.events.register)(event, handler)


def off_event(event: str, handler) -> None:
    """Remove a handler registered with on_event."""
    with _lock:
        _hooks[:] = [hook for hook in _hooks if hook[:2] != (event, handler)]
        for built in _clients.values():
            built.meta.events.unregister(event, handler)


# --- A web request's time budget ----------------------------------------------------------------

STEP = 0.5  # attempt timeouts are whole half-seconds, so that a process builds only a few clients
BACKOFF_MAX = 0.5  # the longest a call in a budget sleeps before trying again
BUDGET_SPENT = "Cognito did not answer within the time this request may wait"
_deadline: ContextVar[float | None] = ContextVar("cognito_deadline", default=None)
_clock, _sleep = time.monotonic, time.sleep  # tests simulate a hang by moving a clock of their own
_watchers: list[list] = []


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Give every Cognito call in the block one deadline `seconds` from now (a nested budget only shortens it)."""
    end, current = _clock() + seconds, _deadline.get()
    token = _deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Return the seconds left of this context's budget, or None outside one (background work)."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - _clock())


def attempt_timeouts(left: float) -> tuple[float, float] | None:
    """Return (connect, read) timeouts that fit in `left` seconds together, or None when too little is left."""
    whole = math.floor(left / STEP) * STEP
    if whole < 2 * STEP:
        return None
    connect = min(settings.COGNITO_CONNECT_TIMEOUT, max(STEP, math.floor(whole / 2 / STEP) * STEP))
    return connect, min(settings.COGNITO_READ_TIMEOUT, whole - connect)


def http_timeouts() -> tuple[float, float]:
    """Return (connect, read) timeouts for a plain HTTP request to Cognito (the JWKS), within any budget."""
    left = remaining()
    if left is None:
        return settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT
    timeouts = attempt_timeouts(left)
    if timeouts is None:
        raise CognitoTimeout(BUDGET_SPENT, "RequestBudgetSpent")
    return timeouts


def backoff(attempt: int) -> float:
    """Return the pause before retry number `attempt` in a budget: jittered, never above BACKOFF_MAX."""
    return random.uniform(0, min(BACKOFF_MAX, 0.1 * 2 ** (attempt - 1)))


@contextmanager
def watch_attempts() -> Iterator[list[CallAttempt]]:
    """Collect every budgeted attempt made while the block runs (tests check the timeouts used)."""
    seen: list[CallAttempt] = []
    _watchers.append(seen)
    try:
        yield seen
    finally:
        _watchers.remove(seen)


def _in_budget(operation: str, params: dict) -> dict[str, Any]:
    """Call within this context's deadline: attempts sized to the time left, short back-offs, then give up."""
    number, pause = 0, 0.0
    while True:
        number += 1
        timeouts = attempt_timeouts(remaining())
        if timeouts is None:
            raise CognitoTimeout(BUDGET_SPENT, "RequestBudgetSpent")
        for seen in list(_watchers):
            seen.append(CallAttempt(operation, *timeouts, backoff=pause))
        token = _retrying.set(number > 1)
        try:
            return _send(_build(*timeouts, attempts=1), operation, params)
        except CognitoFault:
            pause = backoff(number)
            if number >= settings.COGNITO_MAX_ATTEMPTS or attempt_timeouts(remaining() - pause) is None:
                raise
        finally:
            _retrying.reset(token)
        _sleep(pause)


_target = threading.local()


@contextmanager
def target(user_pool_id: str, app_client_id: str = "", app_client_secret: str = "") -> Iterator[None]:
    """Direct this thread's calls at another pool than the configured one (bootstrap uses it)."""
    previous = getattr(_target, "value", None)
    _target.value = (user_pool_id, app_client_id, app_client_secret)
    try:
        yield
    finally:
        _target.value = previous


def _targeted(index: int, setting: str) -> str:
    """Return the targeted value at `index`, else the setting's."""
    value = getattr(_target, "value", None)
    return value[index] if value else getattr(settings, setting)


def pool_id() -> str:
    """Return the user pool ID, or raise ImproperlyConfigured naming the setting."""
    value = _targeted(0, "COGNITO_USER_POOL_ID")
    if not value:
        raise ImproperlyConfigured("COGNITO_USER_POOL_ID is not set.")
    return value


def client_id() -> str:
    """Return the portal's app client ID, or raise ImproperlyConfigured naming the setting."""
    value = _targeted(1, "COGNITO_APP_CLIENT_ID")
    if not value:
        raise ImproperlyConfigured("COGNITO_APP_CLIENT_ID is not set.")
    return value


def client_secret() -> str:
    """Return the portal's app client secret ('' for a client without one)."""
    return _targeted(2, "COGNITO_APP_CLIENT_SECRET")


def canonical_username(value: str) -> str:
    """Return the username as the pool compares it: emails lower-case (the pool is case-insensitive)."""
    return value.strip().lower() if "@" in value else value


@sensitive_variables("params")  # passwords, codes, tokens and sessions stay out of error reports
def call(operation: str, **params) -> dict[str, Any]:
    """Call one Cognito operation, within this context's budget if any; failures become the gateway's exceptions."""
    if "Username" in params:
        params["Username"] = canonical_username(params["Username"])
    for key in ("AuthParameters", "ChallengeResponses"):
        if "USERNAME" in params.get(key, {}):
            params[key]["USERNAME"] = canonical_username(params[key]["USERNAME"])
    if _deadline.get() is not None:
        return _in_budget(operation, params)
    return _send(background_client(), operation, params)


def _send(built, operation: str, params: dict) -> dict[str, Any]:
    """Make one call with a built client, turning its failures into the gateway's exceptions."""
    try:
        return getattr(built, operation)(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        raise ERRORS.get(code, CognitoError)(error.get("Message", ""), code) from None
    except ReadTimeoutError as exc:
        raise CognitoTimeout(f"Cognito did not answer in time: {exc.__class__.__name__}") from None
    except (EndpointConnectionError, ConnectTimeoutError, BotoConnectionError) as exc:
        raise CognitoUnavailable(f"Cognito could not be reached: {exc.__class__.__name__}") from None
    except BotoCoreError as exc:
        raise CognitoError(str(exc), exc.__class__.__name__) from None


def paginate(operation: str, result_key: str, token_key: str, **params) -> Iterator[dict]:
    """Yield every item of a paginated operation, page by page."""
    while True:
        page = call(operation, **params)
        yield from page.get(result_key, [])
        token = page.get(token_key)
        if not token:
            return
        params[token_key] = token
