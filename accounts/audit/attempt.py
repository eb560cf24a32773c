"""Recording an attempt: one audit event for every write attempt, however it ends."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.models import AuditEvent, DirectoryEntry
from accounts.rules.errors import INTERRUPTED, NOT_ALLOWED, ServiceError


@dataclass
class Attempt:
    """What an audited attempt is about and what it did, filled in as it goes."""

    target: str = ""
    target_sub: str = ""
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    outcome: str = AuditEvent.SUCCESS
    error: str = ""
    entry: DirectoryEntry | None = None
    reason: str = ""  # the reason or ticket the actor gave, stored on the event
    applications: list[str] = field(default_factory=list)  # the applications it concerned (owners read those)
    record: Callable[[], None] | None = None  # the index write, made with the audit event after every Cognito call


@contextmanager
def audited(*, actor, action: str, request=None, attempt: Attempt | None = None, reason: str = "") -> Iterator[Attempt]:
    """Run one write attempt and audit it however it ends, with its reason, then let any exception continue.

    No transaction is open while the attempt calls Cognito: its `record` (the index write) and the audit
    event are committed afterwards in one short transaction; a failed attempt is audited on its own.
    """
    attempt = attempt or Attempt()
    attempt.reason = reason or attempt.reason
    outcome, error, stored = None, "", False
    try:
        yield attempt
        with transaction.atomic():
            if attempt.record is not None:
                attempt.record()
            _store(attempt, actor=actor, action=action, request=request)
        stored = True
    except PermissionDenied:
        outcome, error = AuditEvent.DENIED, NOT_ALLOWED
        raise
    except ServiceError as exc:
        outcome, error = AuditEvent.FAILURE, exc.message
        raise
    except cognito.CognitoError as exc:
        outcome, error = AuditEvent.FAILURE, f"{exc.code or exc.__class__.__name__}: {exc}"
        raise
    except Exception as exc:
        outcome, error = AuditEvent.FAILURE, f"{exc.__class__.__name__}"
        raise
    except BaseException as exc:  # the process is being stopped (a worker's timeout, a second Ctrl-C)
        outcome, error = AuditEvent.FAILURE, INTERRUPTED.format(reason=exc.__class__.__name__)
        raise
    finally:
        if not stored:
            _store(attempt, actor=actor, action=action, request=request, outcome=outcome, error=error)


def _store(attempt: Attempt, *, actor, action: str, request, outcome: str | None = None, error: str = "") -> None:
    """Write the attempt's audit event (outcome and error override the attempt's own)."""
    audit_record(
        actor=actor,
        action=action,
        outcome=outcome or attempt.outcome,
        target=attempt.target,
        target_sub=attempt.target_sub,
        before=attempt.before,
        after=attempt.after,
        error=error or attempt.error,
        request=request,
        reason=attempt.reason,
        applications=attempt.applications,
    )
