"""The signed-in session: following Cognito (refresh, standing), and signing out here or everywhere."""

import time

from django.conf import settings
from django.contrib import auth
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import cognito
from accounts.audit.record import audit_record
from accounts.directory import revocations
from accounts.models import AuditEvent, User
from accounts.rules import permissions, roles
from accounts.signin import tokens
from accounts.signin.flows.common import TOKENS

# Why a session found flushed at its next request ended: the last revocation of the user says who did it.
ENDED_HERE = "you signed out everywhere"
ENDED_BY_STAFF = {
    "user_disable": "your account was disabled",
    "user_delete": "your account no longer exists",
    "role_change": "an administrator changed your role and signed you out everywhere",
}
ENDED_OTHERWISE = "you were signed out everywhere"


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
    permissions.standing_follow(user, standing, roles.owned_in(claims.groups))
    request.session[TOKENS] = {**state, "id": result.id_token, "access": result.access_token, "checked_at": time.time()}
    return ""


def session_ended_why(request) -> str:
    """Return why a session that held a signed-in user no longer does (signed out everywhere), or ''.

    Read before anything else looks at request.user: Django flushes a session whose hash no longer matches
    when it first loads the user, and the session's user id goes with it.
    """
    user_id = request.session.get(auth.SESSION_KEY)
    if user_id is None or request.user.is_authenticated:
        return ""
    sub = User.objects.filter(pk=user_id).values_list("cognito_sub", flat=True).first() or ""
    reason = revocations.latest_reason(sub) if sub else ""
    if reason == "sign_out_everywhere":
        return ENDED_HERE
    return ENDED_BY_STAFF.get(reason, ENDED_OTHERWISE)


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
    audit_record(
        actor=user,
        action=action,
        target=user.email,
        target_sub=user.cognito_sub or "",
        outcome=outcome,
        error=error,
        request=request,
    )
    auth.logout(request)
