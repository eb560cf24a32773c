"""Signing in: email and password, then the challenge Cognito asks (a new password, an MFA code)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib import auth
from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.models import AuditEvent, User
from accounts.rules import permissions
from accounts.signin import backend as backends
from accounts.signin import throttle
from accounts.signin.flows.common import (
    BAD_CODE,
    BAD_CREDENTIALS,
    EXPIRED,
    LOCKED,
    NOT_STAFF,
    PENDING,
    PREVIOUS_SIGN_IN,
    RESET_REQUIRED,
    TOKENS,
    TOO_MANY_CODES,
    WEAK_PASSWORD,
    Step,
    attempt_audit,
    password_rules,
    pending,
)

SCREENS = {"NEW_PASSWORD_REQUIRED": "new_password", "SOFTWARE_TOKEN_MFA": "mfa", "MFA_SETUP": "mfa_setup"}


@contextmanager
def _fault_audited(request, username: str) -> Iterator[None]:
    """Audit a sign-in step that Cognito could not answer (busy or unreachable), then let the fault go on."""
    try:
        yield
    except cognito.CognitoFault as exc:
        reason = "Cognito throttled" if isinstance(exc, cognito.Throttled) else "Cognito unreachable"
        attempt_audit(request, "sign_in", username, AuditEvent.FAILURE, reason)
        raise


@sensitive_variables()  # passwords, codes, tokens, the challenge session
def sign_in_start(request, *, username: str, password: str) -> Step:
    """Check the throttle, then sign in with email and password."""
    username = cognito.canonical_username(username)
    if not throttle.signin_allowed(request, username=username):
        attempt_audit(request, "sign_in", username, AuditEvent.DENIED, "throttled")
        return Step(error=LOCKED)
    return_data: dict = {}
    with _fault_audited(request, username):
        user = auth.authenticate(request, username=username, password=password, return_data=return_data)
    reason = return_data.get("reason")
    if reason == backends.CHALLENGE:
        return _pending(request, username, return_data["challenge"])
    return _finish(request, username, user, return_data, mfa_used=False)


@sensitive_variables()
def _pending(request, username: str, result: cognito.AuthResult, **extra) -> Step:
    """Keep the challenge in the session and name the screen that answers it."""
    request.session[PENDING] = {
        "username": username,
        "challenge": result.challenge,
        "session": result.session,
        "at": time.time(),
        **extra,
    }
    if result.challenge not in SCREENS:
        request.session.pop(PENDING, None)
        attempt_audit(request, "sign_in", username, AuditEvent.FAILURE, f"unsupported challenge {result.challenge}")
        return Step(error=BAD_CREDENTIALS)
    return Step(challenge=SCREENS[result.challenge])


@sensitive_variables()
def _finish(request, username: str, user: User | None, return_data: dict, *, mfa_used: bool) -> Step:
    """Log the user in, or turn the backend's reason into a message; audit either way."""
    reason = return_data.get("reason", backends.BAD_CREDENTIALS)
    if user is None:
        request.session.pop(PENDING, None)
        if reason != backends.NOT_STAFF:
            throttle.signin_failed(request, username=username)
        attempt_audit(request, "sign_in", username, AuditEvent.FAILURE, reason)
        if reason == backends.RESET_REQUIRED:
            return Step(challenge="reset_required", error=RESET_REQUIRED)
        return Step(error=NOT_STAFF if reason == backends.NOT_STAFF else BAD_CREDENTIALS)
    result: cognito.AuthResult = return_data["result"]
    if _mfa_required(user) and not mfa_used:
        return _pending(
            request,
            username,
            cognito.AuthResult(challenge="MFA_SETUP"),
            access_token=result.access_token,
            tokens=_token_dict(result),
            enrol=True,
        )
    request.session.pop(PENDING, None)
    previous = user.last_login  # Django's login() records this sign-in as the new last_login
    auth.login(request, user, backend="accounts.signin.backend.CognitoBackend")
    request.session[PREVIOUS_SIGN_IN] = previous.isoformat() if previous else ""
    request.session[TOKENS] = {**_token_dict(result), "checked_at": time.time(), "mfa": mfa_used}
    throttle.signin_succeeded(request, username=username)
    attempt_audit(request, "sign_in", username, AuditEvent.SUCCESS)
    return Step(user=user)


@sensitive_variables()
def _token_dict(result: cognito.AuthResult) -> dict:
    """Return the tokens to keep server-side in the session."""
    return {"id": result.id_token, "access": result.access_token, "refresh": result.refresh_token}


def _mfa_required(user: User) -> bool:
    """Return True when this user must use MFA to sign in."""
    return settings.PORTAL_REQUIRE_MFA_FOR_ADMINS and permissions.is_administrator(user)


@sensitive_variables()
def sign_in_complete(request, state: dict, result: cognito.AuthResult, *, mfa_used: bool) -> Step:
    """Turn a finished challenge into a signed-in user, or the next challenge."""
    if not result.signed_in:
        return _pending(request, state["username"], result)
    return_data: dict = {}
    user = auth.authenticate(request, cognito_tokens=result, return_data=return_data)
    return _finish(request, state["username"], user, return_data, mfa_used=mfa_used)


@sensitive_variables()
def challenge_respond(request, state: dict, challenge: str, answers: dict) -> cognito.AuthResult | Step:
    """Answer the pending challenge; a refusal becomes a Step with its message."""
    try:
        with _fault_audited(request, state["username"]):
            return cognito.auth_respond(challenge, state["session"], state["username"], answers)
    except cognito.InvalidPassword:
        return Step(challenge=_screen(state), error=WEAK_PASSWORD.format(rules=password_rules()))
    except cognito.CodeMismatch:
        refused = throttle.signin_failed(request, username=state["username"])
        attempt_audit(request, "sign_in", state["username"], AuditEvent.FAILURE, "wrong MFA code")
        if refused:  # the pending sign-in ends; the person starts over (and this address is refused for a while)
            request.session.pop(PENDING, None)
            return Step(error=TOO_MANY_CODES)
        return Step(challenge=_screen(state), error=BAD_CODE)
    except (cognito.NotAuthorized, cognito.ResourceNotFound, cognito.ExpiredCode):
        request.session.pop(PENDING, None)
        return Step(error=EXPIRED)


def _screen(state: dict) -> str:
    """Return the screen name of the pending challenge."""
    return SCREENS.get(state["challenge"], "mfa_setup")


@sensitive_variables()
def sign_in_new_password(request, *, new_password: str) -> Step:
    """Answer NEW_PASSWORD_REQUIRED: the first sign-in with a temporary password."""
    state = pending(request)
    if state is None or state["challenge"] != "NEW_PASSWORD_REQUIRED":
        return Step(error=EXPIRED)
    result = challenge_respond(request, state, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": new_password})
    if isinstance(result, Step):
        return result
    attempt_audit(request, "password_set_first", state["username"], AuditEvent.SUCCESS)
    return sign_in_complete(request, state, result, mfa_used=False)


@sensitive_variables()
def sign_in_mfa(request, *, code: str) -> Step:
    """Answer SOFTWARE_TOKEN_MFA with a code from the authenticator app."""
    state = pending(request)
    if state is None or state["challenge"] != "SOFTWARE_TOKEN_MFA":
        return Step(error=EXPIRED)
    if not throttle.signin_allowed(request, username=state["username"]):
        request.session.pop(PENDING, None)
        attempt_audit(request, "sign_in", state["username"], AuditEvent.DENIED, "throttled")
        return Step(error=TOO_MANY_CODES)
    result = challenge_respond(request, state, "SOFTWARE_TOKEN_MFA", {"SOFTWARE_TOKEN_MFA_CODE": code})
    return result if isinstance(result, Step) else sign_in_complete(request, state, result, mfa_used=True)
