"""What the sign-in flows share: the Step, the messages, the session keys, the pending sign-in, the audit.

Tokens stay server-side in the Django session. A step returns a Step: a signed-in
user, the next challenge to show, or an error message (one of the constants below).
Every attempt is audited; no password or token reaches the audit or a log, nor an error report:
the functions that hold them are `sensitive_variables`.
"""

import time
from dataclasses import dataclass

from accounts.audit.record import audit_record
from accounts.models import User

BAD_CREDENTIALS = "The email or password is not right, or the account is disabled."
NOT_STAFF = "This account has no access to the portal."
RESET_REQUIRED = "An administrator reset your password. Choose a new one with the code we email you."
LOCKED = "Too many failed attempts for this account from your address. Try again later."
TOO_MANY_CODES = "Too many wrong codes. Please sign in again."
EXPIRED = "The sign-in took too long. Please start again."
BAD_CODE = "That code is not right, or it has expired."
WEAK_PASSWORD = "The password needs {rules}."
SESSION_ENDED = "Your session ended: {why}. Please sign in again."
UNAVAILABLE = "Cognito could not be reached, so nothing was changed. Please try again in a moment."
BUSY = "Cognito is busy. Nothing was changed; please try again in a few seconds."
FORGOT_SENT = "If that account exists, we have emailed it a code."
RESTART = (EXPIRED, TOO_MANY_CODES)  # the errors that send the person back to the sign-in page

PENDING = "signin_pending"  # the challenge in progress
TOKENS = "cognito"  # the signed-in session's tokens and last revalidation
PREVIOUS_SIGN_IN = "previous_sign_in"  # the member's sign-in before this one (ISO time, '' for a first)
PENDING_SECONDS = 170  # Cognito's challenge sessions last three minutes


@dataclass(frozen=True)
class Step:
    """Where a sign-in step leaves the person: signed in, at a challenge, or refused."""

    user: User | None = None
    challenge: str = ""
    error: str = ""


def attempt_audit(request, action: str, username: str, outcome: str, error: str = "") -> None:
    """Audit one sign-in attempt; the actor is the person signing in."""
    audit_record(
        actor=username or "anonymous", action=action, target=username, outcome=outcome, error=error, request=request
    )


def pending(request) -> dict | None:
    """Return the challenge in progress, or None when there is none or it expired."""
    state = request.session.get(PENDING)
    if not state or time.time() - state["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    return state


def password_rules() -> str:
    """Return the password policy as one phrase."""
    from accounts.rules import passwords

    return ", ".join(passwords.policy().rules())
