"""Passwords: the forgotten password (a code by email), and the signed-in user's own change."""

from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.models import AuditEvent
from accounts.signin import throttle
from accounts.signin.flows.common import BAD_CODE, LOCKED, TOKENS, WEAK_PASSWORD, attempt_audit, password_rules


@sensitive_variables()
def password_forgot_start(request, *, email: str) -> str:
    """Ask Cognito to email a reset code; return the code only on the embedded emulator."""
    email = cognito.canonical_username(email)
    if not throttle.forgot_allowed(request, email=email):
        attempt_audit(request, "password_forgot", email, AuditEvent.DENIED, "throttled")
        return ""  # the same answer as when the code was sent
    try:
        code = cognito.password_forgot(email)
    except (cognito.UserNotFound, cognito.InvalidParameter, cognito.NotAuthorized):
        code = ""  # the same answer whether or not the account exists
    attempt_audit(request, "password_forgot", email, AuditEvent.SUCCESS)
    return code


@sensitive_variables()
def password_forgot_finish(request, *, email: str, code: str, new_password: str) -> str:
    """Set a new password with the emailed code; return an error message, or '' on success."""
    email = cognito.canonical_username(email)
    if not throttle.signin_allowed(request, username=email):
        attempt_audit(request, "password_reset_confirm", email, AuditEvent.DENIED, "throttled")
        return LOCKED
    try:
        cognito.password_confirm_forgot(email, code, new_password)
    except cognito.InvalidPassword:
        return WEAK_PASSWORD.format(rules=password_rules())
    except (
        cognito.CodeMismatch,
        cognito.ExpiredCode,
        cognito.UserNotFound,
        cognito.NotAuthorized,
        cognito.InvalidParameter,
        cognito.ResourceNotFound,
    ) as exc:  # the emulator's unknown user
        throttle.signin_failed(request, username=email)
        attempt_audit(request, "password_reset_confirm", email, AuditEvent.FAILURE, exc.code)
        return BAD_CODE
    attempt_audit(request, "password_reset_confirm", email, AuditEvent.SUCCESS)
    return ""


@sensitive_variables()
def account_password_change(request, *, old_password: str, new_password: str) -> str:
    """Change the signed-in user's own password; return an error message, or '' on success."""
    user = request.user
    try:
        cognito.password_change(request.session[TOKENS]["access"], old_password, new_password)
    except cognito.InvalidPassword:
        return WEAK_PASSWORD.format(rules=password_rules())
    except cognito.NotAuthorized:
        audit_record(
            actor=user,
            action="password_change",
            target=user.email,
            outcome=AuditEvent.FAILURE,
            error="current password not accepted",
            request=request,
        )
        return "The current password is not right."
    audit_record(
        actor=user, action="password_change", target=user.email, target_sub=user.cognito_sub or "", request=request
    )
    return ""
