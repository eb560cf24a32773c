"""Two-step sign-in: TOTP enrolment while signing in (MFA_SETUP, or required of administrators), or from the account."""

from urllib.parse import quote

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.models import AuditEvent
from accounts.signin.flows.common import BAD_CODE, EXPIRED, PENDING, TOKENS, Step, attempt_audit, pending
from accounts.signin.flows.login import challenge_respond, sign_in_complete


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
        secret, session = cognito.token_associate(
            access_token=state.get("access_token", ""), session=state.get("session", "")
        )
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
        session = cognito.token_verify(
            code, access_token=state.get("access_token", ""), session=state.get("session", "")
        )
    except cognito.CodeMismatch:
        return Step(challenge="mfa_setup", error=BAD_CODE)
    except (cognito.NotAuthorized, cognito.ResourceNotFound):
        request.session.pop(PENDING, None)
        return Step(error=EXPIRED)
    cognito.user_set_totp_preference(state["username"], enabled=True)
    attempt_audit(request, "mfa_enable", state["username"], AuditEvent.SUCCESS)
    if state.get("enrol"):
        return sign_in_complete(request, state, cognito.AuthResult(**_result_kwargs(state["tokens"])), mfa_used=True)
    state["session"] = session
    result = challenge_respond(request, state, "MFA_SETUP", {})
    return result if isinstance(result, Step) else sign_in_complete(request, state, result, mfa_used=True)


@sensitive_variables()
def _result_kwargs(saved: dict) -> dict:
    """Turn tokens kept in the session back into AuthResult arguments."""
    return {"id_token": saved["id"], "access_token": saved["access"], "refresh_token": saved["refresh"]}


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
    audit_record(
        actor=request.user,
        action="mfa_enable",
        target=request.user.email,
        target_sub=request.user.cognito_sub or "",
        request=request,
    )
    return ""
