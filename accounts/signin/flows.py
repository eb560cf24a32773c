"""The staff sign-in flow, one function per step, and the sessions that follow Cognito.

Tokens stay server-side in the Django session. A step returns a Step: a signed-in
user, the next challenge to show, or an error message (one of the constants below).
Every attempt is audited; no password or token reaches the audit or a log, nor an error report:
the functions that hold them are `sensitive_variables`.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.contrib import auth
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.directory import revocations
from accounts.rules import permissions
from accounts.signin import backend as backends, throttle, tokens
from accounts.audit.record import audit_record, client_ip
from accounts.models import AuditEvent, User

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
PENDING_SECONDS = 170  # Cognito's challenge sessions last three minutes
SCREENS = {"NEW_PASSWORD_REQUIRED": "new_password", "SOFTWARE_TOKEN_MFA": "mfa", "MFA_SETUP": "mfa_setup"}


@dataclass(frozen=True)
class Step:
    """Where a sign-in step leaves the person: signed in, at a challenge, or refused."""

    user: User | None = None
    challenge: str = ""
    error: str = ""


def _audit(request, action: str, username: str, outcome: str, error: str = "") -> None:
    """Audit one sign-in attempt; the actor is the person signing in."""
    audit_record(actor=username or "anonymous", action=action, target=username, outcome=outcome,
                 error=error, request=request)


@contextmanager
def _fault_audited(request, username: str) -> Iterator[None]:
    """Audit a sign-in step that Cognito could not answer (busy or unreachable), then let the fault go on."""
    try:
        yield
    except cognito.CognitoFault as exc:
        reason = "Cognito throttled" if isinstance(exc, cognito.Throttled) else "Cognito unreachable"
        _audit(request, "sign_in", username, AuditEvent.FAILURE, reason)
        raise


@sensitive_variables()  # passwords, codes, tokens, the challenge session
def sign_in_start(request, *, username: str, password: str) -> Step:
    """Check the throttle, then sign in with email and password."""
    username = cognito.canonical_username(username)
    if not throttle.signin_allowed(request, username=username):
        _audit(request, "sign_in", username, AuditEvent.DENIED, "throttled")
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
    request.session[PENDING] = {"username": username, "challenge": result.challenge, "session": result.session,
                                "at": time.time(), **extra}
    if result.challenge not in SCREENS:
        request.session.pop(PENDING, None)
        _audit(request, "sign_in", username, AuditEvent.FAILURE, f"unsupported challenge {result.challenge}")
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
        _audit(request, "sign_in", username, AuditEvent.FAILURE, reason)
        if reason == backends.RESET_REQUIRED:
            return Step(challenge="reset_required", error=RESET_REQUIRED)
        return Step(error=NOT_STAFF if reason == backends.NOT_STAFF else BAD_CREDENTIALS)
    result: cognito.AuthResult = return_data["result"]
    if _mfa_required(user) and not mfa_used:
        return _pending(request, username, cognito.AuthResult(challenge="MFA_SETUP"), access_token=result.access_token,
                        tokens=_token_dict(result), enrol=True)
    request.session.pop(PENDING, None)
    auth.login(request, user, backend="accounts.signin.backend.CognitoBackend")
    request.session[TOKENS] = {**_token_dict(result), "checked_at": time.time(), "mfa": mfa_used}
    throttle.signin_succeeded(request, username=username)
    _audit(request, "sign_in", username, AuditEvent.SUCCESS)
    return Step(user=user)


@sensitive_variables()
def _token_dict(result: cognito.AuthResult) -> dict:
    """Return the tokens to keep server-side in the session."""
    return {"id": result.id_token, "access": result.access_token, "refresh": result.refresh_token}


def _mfa_required(user: User) -> bool:
    """Return True when this user must use MFA to sign in."""
    return settings.PORTAL_REQUIRE_MFA_FOR_ADMINS and permissions.is_administrator(user)


def pending(request) -> dict | None:
    """Return the challenge in progress, or None when there is none or it expired."""
    state = request.session.get(PENDING)
    if not state or time.time() - state["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    return state


@sensitive_variables()
def _complete(request, state: dict, result: cognito.AuthResult, *, mfa_used: bool) -> Step:
    """Turn a finished challenge into a signed-in user, or the next challenge."""
    if not result.signed_in:
        return _pending(request, state["username"], result)
    return_data: dict = {}
    user = auth.authenticate(request, cognito_tokens=result, return_data=return_data)
    return _finish(request, state["username"], user, return_data, mfa_used=mfa_used)


@sensitive_variables()
def _respond(request, state: dict, challenge: str, answers: dict) -> cognito.AuthResult | Step:
    """Answer the pending challenge; a refusal becomes a Step with its message."""
    try:
        with _fault_audited(request, state["username"]):
            return cognito.auth_respond(challenge, state["session"], state["username"], answers)
    except cognito.InvalidPassword:
        return Step(challenge=_screen(state), error=WEAK_PASSWORD.format(rules=_rules()))
    except cognito.CodeMismatch:
        refused = throttle.signin_failed(request, username=state["username"])
        _audit(request, "sign_in", state["username"], AuditEvent.FAILURE, "wrong MFA code")
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


def _rules() -> str:
    """Return the password policy as one phrase."""
    from accounts.rules import passwords

    return ", ".join(passwords.policy().rules())


@sensitive_variables()
def sign_in_new_password(request, *, new_password: str) -> Step:
    """Answer NEW_PASSWORD_REQUIRED: the first sign-in with a temporary password."""
    state = pending(request)
    if state is None or state["challenge"] != "NEW_PASSWORD_REQUIRED":
        return Step(error=EXPIRED)
    result = _respond(request, state, "NEW_PASSWORD_REQUIRED", {"NEW_PASSWORD": new_password})
    if isinstance(result, Step):
        return result
    _audit(request, "password_set_first", state["username"], AuditEvent.SUCCESS)
    return _complete(request, state, result, mfa_used=False)


@sensitive_variables()
def sign_in_mfa(request, *, code: str) -> Step:
    """Answer SOFTWARE_TOKEN_MFA with a code from the authenticator app."""
    state = pending(request)
    if state is None or state["challenge"] != "SOFTWARE_TOKEN_MFA":
        return Step(error=EXPIRED)
    if not throttle.signin_allowed(request, username=state["username"]):
        request.session.pop(PENDING, None)
        _audit(request, "sign_in", state["username"], AuditEvent.DENIED, "throttled")
        return Step(error=TOO_MANY_CODES)
    result = _respond(request, state, "SOFTWARE_TOKEN_MFA", {"SOFTWARE_TOKEN_MFA_CODE": code})
    return result if isinstance(result, Step) else _complete(request, state, result, mfa_used=True)


@sensitive_variables()
def otpauth_uri(email: str, secret: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    issuer_name = quote(settings.PORTAL_MFA_ISSUER)
    return f"otpauth://totp/{issuer_name}:{quote(email)}?secret={secret}&issuer={issuer_name}"


@sensitive_variables()
def mfa_setup_begin(request) -> str:
    """Start TOTP enrolment for the pending sign-in; return the secret (kept in the pending state)."""
    state = pending(request)
    if state is None or state["challenge"] != "MFA_SETUP":
        raise cognito.NotAuthorized(EXPIRED)
    if not state.get("secret"):
        secret, session = cognito.token_associate(access_token=state.get("access_token", ""),
                                                  session=state.get("session", ""))
        state.update(secret=secret, session=session or state.get("session", ""))
        request.session[PENDING] = state
    return state["secret"]


@sensitive_variables()
def mfa_setup_finish(request, *, code: str) -> Step:
    """Verify the first TOTP code, turn MFA on, and finish signing in."""
    state = pending(request)
    if state is None or state["challenge"] != "MFA_SETUP" or not state.get("secret"):
        return Step(error=EXPIRED)
    try:
        session = cognito.token_verify(code, access_token=state.get("access_token", ""), session=state.get("session", ""))
    except cognito.CodeMismatch:
        return Step(challenge="mfa_setup", error=BAD_CODE)
    except (cognito.NotAuthorized, cognito.ResourceNotFound):
        request.session.pop(PENDING, None)
        return Step(error=EXPIRED)
    cognito.user_set_totp_preference(state["username"], enabled=True)
    _audit(request, "mfa_enable", state["username"], AuditEvent.SUCCESS)
    if state.get("enrol"):
        return _complete(request, state, cognito.AuthResult(**_result_kwargs(state["tokens"])), mfa_used=True)
    state["session"] = session
    result = _respond(request, state, "MFA_SETUP", {})
    return result if isinstance(result, Step) else _complete(request, state, result, mfa_used=True)


@sensitive_variables()
def _result_kwargs(saved: dict) -> dict:
    """Turn tokens kept in the session back into AuthResult arguments."""
    return {"id_token": saved["id"], "access_token": saved["access"], "refresh_token": saved["refresh"]}


@sensitive_variables()
def password_forgot_start(request, *, email: str) -> str:
    """Ask Cognito to email a reset code; return the code only on the embedded emulator."""
    email = cognito.canonical_username(email)
    if not throttle.forgot_allowed(request, email=email):
        _audit(request, "password_forgot", email, AuditEvent.DENIED, "throttled")
        return ""  # the same answer as when the code was sent
    try:
        code = cognito.password_forgot(email)
    except (cognito.UserNotFound, cognito.InvalidParameter, cognito.NotAuthorized):
        code = ""  # the same answer whether or not the account exists
    _audit(request, "password_forgot", email, AuditEvent.SUCCESS)
    return code


@sensitive_variables()
def password_forgot_finish(request, *, email: str, code: str, new_password: str) -> str:
    """Set a new password with the emailed code; return an error message, or '' on success."""
    email = cognito.canonical_username(email)
    if not throttle.signin_allowed(request, username=email):
        _audit(request, "password_reset_confirm", email, AuditEvent.DENIED, "throttled")
        return LOCKED
    try:
        cognito.password_confirm_forgot(email, code, new_password)
    except cognito.InvalidPassword:
        return WEAK_PASSWORD.format(rules=_rules())
    except (cognito.CodeMismatch, cognito.ExpiredCode, cognito.UserNotFound, cognito.NotAuthorized,
            cognito.InvalidParameter, cognito.ResourceNotFound) as exc:  # the emulator's unknown user
        throttle.signin_failed(request, username=email)
        _audit(request, "password_reset_confirm", email, AuditEvent.FAILURE, exc.code)
        return BAD_CODE
    _audit(request, "password_reset_confirm", email, AuditEvent.SUCCESS)
    return ""


@sensitive_variables()
def session_revalidate(request) -> str:
    """Follow Cognito: refresh the tokens at the interval; return why the session must end, or ''."""
    state = request.session.get(TOKENS)
    if not state or time.time() - state["checked_at"] < settings.PORTAL_SESSION_REVALIDATE_SECONDS:
        return ""
    user = request.user
    try:
        result = cognito.auth_refresh(user.cognito_sub, state["refresh"])
        claims = tokens.verify_id_token(result.id_token)
        account = cognito.user_get(user.email)
    except (cognito.NotAuthorized, tokens.TokenError):
        return "your sign-in was revoked"
    except cognito.UserNotFound:
        return "your account no longer exists"
    if not account.enabled:
        return "your account was disabled"
    standing = permissions.standing_for_groups(claims.groups)
    if not standing:
        return "your account is no longer portal staff"
    permissions.standing_follow(user, standing)
    request.session[TOKENS] = {**state, "id": result.id_token, "access": result.access_token,
                               "checked_at": time.time()}
    return ""


@sensitive_variables()
def sign_out(request, *, everywhere: bool = False) -> None:
    """End this session and revoke the user's refresh tokens; everywhere also ends their other sessions."""
    user = request.user
    if not user.is_authenticated:
        return
    outcome, error = AuditEvent.SUCCESS, ""
    try:
        cognito.user_sign_out_everywhere(user.email)
    except cognito.CognitoError as exc:
        outcome, error = AuditEvent.FAILURE, f"tokens not revoked: {exc.code or exc.__class__.__name__}"
    action = "sign_out_everywhere" if everywhere else "sign_out"
    if user.cognito_sub:  # Cognito's global sign-out voids every token: the API and the feed say so too
        revocations.revocation_record(sub=user.cognito_sub, at=timezone.now(), reason=action)
    if everywhere:
        user.set_unusable_password()  # changes the session hash: every other session of this user ends
        user.save(update_fields=["password"])
    audit_record(actor=user, action=action, target=user.email,
                 target_sub=user.cognito_sub or "", outcome=outcome, error=error, request=request)
    auth.logout(request)


@sensitive_variables()
def account_password_change(request, *, old_password: str, new_password: str) -> str:
    """Change the signed-in user's own password; return an error message, or '' on success."""
    user = request.user
    try:
        cognito.password_change(request.session[TOKENS]["access"], old_password, new_password)
    except cognito.InvalidPassword:
        return WEAK_PASSWORD.format(rules=_rules())
    except cognito.NotAuthorized:
        audit_record(actor=user, action="password_change", target=user.email, outcome=AuditEvent.FAILURE,
                     error="current password not accepted", request=request)
        return "The current password is not right."
    audit_record(actor=user, action="password_change", target=user.email, target_sub=user.cognito_sub or "",
                 request=request)
    return ""


@sensitive_variables()
def account_mfa_begin(request) -> str:
    """Start TOTP enrolment for the signed-in user; return the secret."""
    state = request.session[TOKENS]
    if not state.get("mfa_secret"):
        state["mfa_secret"], _ = cognito.token_associate(access_token=state["access"])
        request.session[TOKENS] = state
    return state["mfa_secret"]


@sensitive_variables()
def account_mfa_finish(request, *, code: str) -> str:
    """Verify the first code and turn TOTP on; return an error message, or '' on success."""
    state = request.session[TOKENS]
    try:
        cognito.token_verify(code, access_token=state["access"])
    except (cognito.CodeMismatch, cognito.InvalidParameter):
        return BAD_CODE
    cognito.user_set_totp_preference(request.user.email, enabled=True)
    state.pop("mfa_secret", None)
    request.session[TOKENS] = {**state, "mfa": True}
    audit_record(actor=request.user, action="mfa_enable", target=request.user.email,
                 target_sub=request.user.cognito_sub or "", request=request)
    return ""
