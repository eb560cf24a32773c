"""Sign a user in with the applications' public app client: two Cognito calls over plain HTTPS.

InitiateAuth needs no AWS credentials for a public client (one without a secret), so the
application holds none. The answer is the ID, access and refresh tokens, or a refusal.
"""

import json
from dataclasses import dataclass

import requests

TARGET = "AWSCognitoIdentityProviderService.InitiateAuth"


class SignInRefused(Exception):
    """Cognito said no: wrong password, disabled user, or a revoked or unknown refresh token."""


class SignInUnavailable(Exception):
    """Cognito could not be reached or answered with an error of its own."""


@dataclass(frozen=True)
class Tokens:
    """What a successful sign-in or refresh returns."""

    id_token: str
    access_token: str
    refresh_token: str


def _initiate_auth(endpoint: str, body: dict, timeout: float) -> dict:
    """POST one InitiateAuth request and return its JSON answer, or raise."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET}
    try:
        response = requests.post(endpoint, data=json.dumps(body), headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise SignInUnavailable(exc.__class__.__name__) from None
    try:
        answer = response.json()
    except ValueError:
        raise SignInUnavailable(f"HTTP {response.status_code}") from None
    if response.status_code == 400 and answer.get("__type", "").rsplit("#", 1)[-1] in (
        "NotAuthorizedException",
        "UserNotFoundException",
        "UserNotConfirmedException",
        "PasswordResetRequiredException",
    ):
        raise SignInRefused(answer["__type"].rsplit("#", 1)[-1])
    if response.status_code != 200:
        raise SignInUnavailable(answer.get("__type", f"HTTP {response.status_code}"))
    return answer


def sign_in(endpoint: str, client_id: str, email: str, password: str, timeout: float = 10) -> Tokens | str:
    """Return the tokens, or the name of the challenge Cognito asks for (e.g. NEW_PASSWORD_REQUIRED)."""
    answer = _initiate_auth(
        endpoint,
        {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": email, "PASSWORD": password},
        },
        timeout,
    )
    if "AuthenticationResult" not in answer:
        return answer.get("ChallengeName", "UNKNOWN")
    result = answer["AuthenticationResult"]
    return Tokens(result["IdToken"], result["AccessToken"], result.get("RefreshToken", ""))


def refresh(endpoint: str, client_id: str, refresh_token: str, timeout: float = 10) -> Tokens:
    """Exchange the refresh token for new ID and access tokens (the refresh token is kept)."""
    answer = _initiate_auth(
        endpoint,
        {"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh_token}},
        timeout,
    )
    result = answer.get("AuthenticationResult") or {}
    if "IdToken" not in result:
        raise SignInRefused("no tokens")
    return Tokens(result["IdToken"], result["AccessToken"], result.get("RefreshToken") or refresh_token)
