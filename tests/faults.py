"""Faults that moto cannot produce, injected at the gateway with botocore event hooks."""

import json
from contextlib import contextmanager

from botocore.awsrequest import AWSResponse

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
    return AWSResponse("https://cognito-idp.invalid/", status, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))


@contextmanager
def cognito_fault(code: str = "TooManyRequestsException", *, times: int = 10**6, operations=None, status=400):
    """Answer the next `times` matching Cognito requests with an error, before moto sees them.

    Yields a list that records the operation name of every request that was failed.
    """
    failed: list[str] = []

    def handler(request, **_kwargs):
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        name = operation.rsplit(".", 1)[-1]
        if len(failed) < times and (operations is None or name in operations):
            failed.append(name)
            return error_response(code, status)
        return None

    cognito.on_event("before-send.cognito-idp", handler, first=True)
    try:
        yield failed
    finally:
        cognito.off_event("before-send.cognito-idp", handler)
