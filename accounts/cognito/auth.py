"""Sign-in: the auth flows, challenges, passwords (forgotten and changed), TOTP, global sign-out."""

import base64
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

import accounts.cognito.client as client
from accounts.cognito.errors import CodeMismatch
from accounts.cognito.types import AuthResult


def secret_hash(username: str, app_client_id: str, app_client_secret: str) -> str:
    """Return Cognito's SECRET_HASH: base64 HMAC-SHA256 of username + client ID, keyed by the secret."""
    digest = hmac.new(app_client_secret.encode(), (username + app_client_id).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _username_hash(username: str) -> str:
    """Return the SECRET_HASH of this username for the portal's client."""
    return secret_hash(client.canonical_username(username), client.client_id(), client.client_secret())


def _with_secret(username: str, params: dict[str, str]) -> dict[str, str]:
    """Add SECRET_HASH to auth parameters when the portal's client has a secret."""
    if client.client_secret():
        params["SECRET_HASH"] = _username_hash(username)
    return params


def _auth_result(response: dict) -> AuthResult:
    """Build an AuthResult from an InitiateAuth or RespondToAuthChallenge response."""
    tokens = response.get("AuthenticationResult") or {}
    return AuthResult(
        id_token=tokens.get("IdToken", ""),
        access_token=tokens.get("AccessToken", ""),
        refresh_token=tokens.get("RefreshToken", ""),
        expires_in=tokens.get("ExpiresIn", 0),
        challenge=response.get("ChallengeName", ""),
        session=response.get("Session", ""),
        parameters=response.get("ChallengeParameters", {}) or {},
    )


@sensitive_variables()
def auth_password(username: str, password: str) -> AuthResult:
    """Start a sign-in with username and password (ADMIN_USER_PASSWORD_AUTH)."""
    params = _with_secret(username, {"USERNAME": username, "PASSWORD": password})
    response = client.call(
        "admin_initiate_auth",
        UserPoolId=client.pool_id(),
        ClientId=client.client_id(),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters=params,
    )
    return _auth_result(response)


@sensitive_variables()
def auth_refresh(username: str, refresh_token: str) -> AuthResult:
    """Exchange a refresh token for new ID and access tokens; `username` is the user's sub."""
    params = _with_secret(username, {"REFRESH_TOKEN": refresh_token})
    response = client.call(
        "admin_initiate_auth",
        UserPoolId=client.pool_id(),
        ClientId=client.client_id(),
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters=params,
    )
    return _auth_result(response)


@sensitive_variables()
def auth_respond(challenge: str, session: str, username: str, answers: dict[str, str]) -> AuthResult:
    """Answer a sign-in challenge (NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, MFA_SETUP)."""
    responses = _with_secret(username, {"USERNAME": username, **answers})
    response = client.call(
        "admin_respond_to_auth_challenge",
        UserPoolId=client.pool_id(),
        ClientId=client.client_id(),
        ChallengeName=challenge,
        Session=session,
        ChallengeResponses=responses,
    )
    return _auth_result(response)


EMULATOR_CODE_PREFIX = "moto-confirmation-code:"  # how the embedded emulator marks the codes it checks


def password_forgot(username: str) -> str:
    """Ask Cognito to send a reset code; return the code only when the embedded emulator exposes it."""
    params: dict[str, Any] = {"ClientId": client.client_id(), "Username": username}
    if client.client_secret():
        params["SecretHash"] = _username_hash(username)
    response = client.call("forgot_password", **params)
    if not settings.COGNITO_EMBEDDED:
        return ""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return headers.get("x-moto-forgot-password-confirmation-code", "").removeprefix(EMULATOR_CODE_PREFIX)


@sensitive_variables()
def password_confirm_forgot(username: str, code: str, password: str) -> None:
    """Set a new password with the code Cognito sent."""
    if settings.COGNITO_EMBEDDED:
        code = EMULATOR_CODE_PREFIX + code  # so that the emulator checks the code as Cognito would
    params: dict[str, Any] = {
        "ClientId": client.client_id(),
        "Username": username,
        "ConfirmationCode": code,
        "Password": password,
    }
    if client.client_secret():
        params["SecretHash"] = _username_hash(username)
    client.call("confirm_forgot_password", **params)


@sensitive_variables()
def password_change(access_token: str, old_password: str, new_password: str) -> None:
    """Change the signed-in user's own password."""
    client.call(
        "change_password", AccessToken=access_token, PreviousPassword=old_password, ProposedPassword=new_password
    )


@sensitive_variables()
def token_associate(*, access_token: str = "", session: str = "") -> tuple[str, str]:
    """Start TOTP enrolment; return (secret, session)."""
    params = {"AccessToken": access_token} if access_token else {"Session": session}
    response = client.call("associate_software_token", **params)
    return response["SecretCode"], response.get("Session", "")


@sensitive_variables()
def token_verify(code: str, *, access_token: str = "", session: str = "") -> str:
    """Verify a TOTP code to finish enrolment; return the new session (empty with an access token)."""
    params: dict[str, Any] = {"UserCode": code, "FriendlyDeviceName": "portal"}
    params.update({"AccessToken": access_token} if access_token else {"Session": session})
    response = client.call("verify_software_token", **params)
    if response.get("Status") != "SUCCESS":
        raise CodeMismatch("The code was not accepted.", "CodeMismatchException")
    return response.get("Session", "")


def user_set_totp_preference(username: str, *, enabled: bool) -> None:
    """Turn TOTP MFA on or off for a user, as their preferred method."""
    client.call(
        "admin_set_user_mfa_preference",
        UserPoolId=client.pool_id(),
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": enabled, "PreferredMfa": enabled},
    )


@sensitive_variables()
def sign_out_everywhere(access_token: str) -> None:
    """Revoke every refresh token of the token's owner (GlobalSignOut)."""
    client.call("global_sign_out", AccessToken=access_token)
