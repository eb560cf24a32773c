"""Faults for Cognito writes that moto must not apply.

botocore emits before-send to every handler and keeps the first response, so moto's own handler still
applies a request that tests/faults.cognito_fault answered with an error: the write happens in the
emulator while the portal sees a failure. Here the failed request is also pointed away from moto's
endpoint (and back again when a retry is let through), so a failed write changes nothing.
"""

from contextlib import contextmanager

from accounts import cognito
from tests.faults import error_response

NOWHERE = "https://cognito-idp.invalid/"


@contextmanager
def cognito_write_fault(code: str = "TooManyRequestsException", *, operations=None, after: int = 0,
                        times: int = 10**6, status: int = 400):
    """Let `after` matching requests through, then fail the next `times` ones before moto sees them.

    Yields the list of operation names that were failed (one per HTTP attempt, retries included).
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
