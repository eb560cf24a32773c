"""Faults that moto cannot produce, injected at the gateway with botocore event hooks."""

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from django.conf import settings

from accounts import cognito


class _Raw:
    """A minimal raw body for AWSResponse."""

    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def error_response(code: str, status: int = 400, message: str = "simulated") -> AWSResponse:
    """Return an HTTP response carrying a Cognito JSON error."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse(
        "https://cognito-idp.invalid/", status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body)
    )


NOWHERE = "https://cognito-idp.invalid/"


@contextmanager
def cognito_fault(
    code: str = "TooManyRequestsException", *, operations=None, after: int = 0, times: int = 10**6, status: int = 400
):
    """Let `after` matching requests through, then fail the next `times` ones before moto applies them.

    botocore emits before-send to every handler and keeps the first response, so moto's own handler
    would still apply a request answered here with an error; the failed request is therefore also
    pointed away from moto's endpoint (and back again when a retry is let through), so a failed write
    changes nothing. Yields the operation names that were failed (one per HTTP attempt).
    """
    failed: list[str] = []
    passed = {"count": 0}
    diverted: dict[int, str] = {}

    def handler(request, **_kwargs):
        target = request.headers.get("X-Amz-Target", b"")
        name = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if operations is not None and name not in operations:
            return None
        if passed["count"] >= after and len(failed) < times:
            failed.append(name)
            diverted.setdefault(id(request), request.url)
            request.url = NOWHERE
            return error_response(code, status)
        passed["count"] += 1
        request.url = diverted.pop(id(request), request.url)
        return None

    cognito.on_event("before-send.cognito-idp", handler, first=True)
    try:
        yield failed
    finally:
        cognito.off_event("before-send.cognito-idp", handler)


@contextmanager
def cognito_down(*, after: int = 0, operations=None):
    """Let `after` matching requests through, then fail every later one as if Cognito had stopped answering.

    The handler raises botocore's EndpointConnectionError before moto's own handler runs, so a request it
    fails is never applied; botocore retries it like any connection error. Yields the operations failed.
    """
    failed: list[str] = []
    passed = {"count": 0}

    def handler(request, **_kwargs):
        target = request.headers.get("X-Amz-Target", b"")
        name = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if operations is not None and name not in operations:
            return None
        if passed["count"] < after:
            passed["count"] += 1
            return None
        failed.append(name)
        raise EndpointConnectionError(endpoint_url=request.url)

    cognito.on_event("before-send.cognito-idp", handler, first=True)
    try:
        yield failed
    finally:
        cognito.off_event("before-send.cognito-idp", handler)


@dataclass
class Hang:
    """What a hung Cognito saw: the budgeted attempts (their timeouts) and the simulated seconds waited."""

    attempts: list = field(default_factory=list)
    now: float = 1000.0
    started: float = 1000.0
    sleeps: list = field(default_factory=list)

    @property
    def waited(self) -> float:
        """Return the simulated seconds spent since the hang began."""
        return self.now - self.started

    def sleep(self, seconds: float) -> None:
        """Sleep on the simulated clock."""
        self.sleeps.append(seconds)
        self.now += seconds


@contextmanager
def cognito_hung(*, operations=None):
    """Make Cognito hang: each matching request waits out its attempt's timeouts, then gets no answer.

    Nothing really waits: the gateway's clock is replaced by one that the hang moves forward by the timeouts
    of the attempt in flight (the configured ones outside a budget), and sleeping moves it by the pause. The
    request is refused before moto's own handler runs, so it is never applied. Yields the Hang.
    """
    hang = Hang()

    def handler(request, **_kwargs):
        target = request.headers.get("X-Amz-Target", b"")
        name = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if operations is not None and name not in operations:
            return None
        if cognito.remaining() is None:  # background work: the configured timeouts
            hang.now += settings.COGNITO_CONNECT_TIMEOUT + settings.COGNITO_READ_TIMEOUT
        else:
            hang.now += hang.attempts[-1].connect_timeout + hang.attempts[-1].read_timeout
        raise ReadTimeoutError(endpoint_url=request.url)

    with (
        cognito.watch_attempts() as hang.attempts,
        mock.patch.object(cognito.client, "_clock", lambda: hang.now),
        mock.patch.object(cognito.client, "_sleep", hang.sleep),
    ):
        cognito.on_event("before-send.cognito-idp", handler, first=True)
        try:
            yield hang
        finally:
            cognito.off_event("before-send.cognito-idp", handler)
