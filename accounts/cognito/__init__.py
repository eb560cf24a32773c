"""The Cognito gateway: the only module that imports boto3 or botocore.

It builds the client lazily (moto must be active before one exists), with explicit
timeouts and botocore's retry mode, returns small dataclasses instead of boto
dictionaries, and turns Cognito's error codes into the exceptions below.

Inside a budget (every web request has one, see `budget`) calls share one deadline: each
attempt's timeouts fit in what is left and the gateway retries itself with short back-offs;
outside one (workers, commands) botocore's standard retries apply, with their long back-offs.
"""

import base64
import functools
import hashlib
import hmac
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

# --- Exceptions --------------------------------------------------------------------------------


class CognitoError(Exception):
    """A Cognito call that failed; `code` is Cognito's error code."""

    def __init__(self, message: str = "", code: str = ""):
        super().__init__(message or code or self.__class__.__name__)
        self.code = code


class UserNotFound(CognitoError):
    """The user does not exist."""


class UserExists(CognitoError):
    """A user with that username or email already exists."""


class InvalidPassword(CognitoError):
    """The password does not meet the pool's policy."""


class NotAuthorized(CognitoError):
    """Wrong credentials, a disabled user, or a revoked or expired token."""


class PasswordResetRequired(CognitoError):
    """An administrator reset the password: the user must use the forgot-password path."""


class UserNotConfirmed(CognitoError):
    """The user has not confirmed their account."""


class CodeMismatch(CognitoError):
    """A verification or MFA code that is wrong."""


class ExpiredCode(CognitoError):
    """A verification code that has expired."""


class GroupExists(CognitoError):
    """A group with that name already exists."""


class ResourceNotFound(CognitoError):
    """A pool, client or group that does not exist."""


class InvalidParameter(CognitoError):
    """A request Cognito refused as malformed."""


class TooManyAttempts(CognitoError):
    """A per-user limit of Cognito (too many failed codes, resets or changes for this user): wait, then retry."""


TOO_MANY_ATTEMPTS = ("Cognito refuses more attempts for this account for now (too many failed codes or requests "
                     "for it). Nothing was changed: wait a few minutes, then try again.")


class CognitoFault(CognitoError):
    """Cognito is busy or down: the one base class of the faults that a later attempt may not meet."""


class Throttled(CognitoFault):
    """Cognito kept throttling after every retry."""


class CognitoUnavailable(CognitoFault):
    """Cognito could not be reached."""


class CognitoTimeout(CognitoUnavailable):
    """Cognito did not answer in the time left: a write it was sent may or may not have been applied."""


_ERRORS: dict[str, type[CognitoError]] = {
    "UserNotFoundException": UserNotFound,
    "UsernameExistsException": UserExists,
    "AliasExistsException": UserExists,
    "InvalidPasswordException": InvalidPassword,
    "NotAuthorizedException": NotAuthorized,
    "PasswordResetRequiredException": PasswordResetRequired,
    "UserNotConfirmedException": UserNotConfirmed,
    "CodeMismatchException": CodeMismatch,
    "EnableSoftwareTokenMFAException": CodeMismatch,
    "ExpiredCodeException": ExpiredCode,
    "GroupExistsException": GroupExists,
    "ResourceNotFoundException": ResourceNotFound,
    "InvalidParameterException": InvalidParameter,
    "TooManyRequestsException": Throttled,
    "LimitExceededException": TooManyAttempts,
    "TooManyFailedAttemptsException": TooManyAttempts,
    "InternalErrorException": CognitoUnavailable,
    "ServiceUnavailable": CognitoUnavailable,
}

# --- Results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A pool user as the portal sees it."""

    username: str
    attributes: dict[str, str]
    status: str
    enabled: bool
    created: datetime | None = None
    modified: datetime | None = None
    mfa: tuple[str, ...] = ()

    @property
    def sub(self) -> str:
        """Return the user's immutable identifier."""
        return self.attributes.get("sub", self.username)

    @property
    def email(self) -> str:
        """Return the user's email address."""
        return self.attributes.get("email", "")

    @property
    def name(self) -> str:
        """Return the user's display name."""
        return self.attributes.get("name", "")


@dataclass(frozen=True)
class Group:
    """A pool group."""

    name: str
    description: str = ""
    role_arn: str = ""
    precedence: int | None = None


@dataclass(frozen=True)
class AuthResult:
    """The outcome of a sign-in step: tokens, or the next challenge."""

    id_token: str = field(default="", repr=False)  # secrets stay out of repr, and so out of error reports
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_in: int = 0
    challenge: str = ""
    session: str = field(default="", repr=False)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        """Return True when the step produced tokens."""
        return bool(self.id_token)


@dataclass(frozen=True)
class PoolInfo:
    """What DescribeUserPool tells about a pool."""

    id: str
    name: str
    attributes: dict[str, dict[str, Any]]
    mfa: str
    password_policy: dict[str, Any]
    username_attributes: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class ClientInfo:
    """What DescribeUserPoolClient tells about an app client."""

    id: str
    name: str
    secret: str
    auth_flows: tuple[str, ...]
    read_attributes: tuple[str, ...]
    write_attributes: tuple[str, ...]
    id_token_minutes: int
    access_token_minutes: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    refresh_token_minutes: int = 30 * 1440


# --- The clients, and counting their calls ---------------------------------------------------------

_lock = threading.Lock()
_clients: dict[tuple, Any] = {}
_hooks: list[tuple[str, Any, bool]] = []  # handlers given to on_event, put on every client built
_listeners: list[Counter] = []
_retrying: ContextVar[bool] = ContextVar("cognito_retrying", default=False)


def _count_call(model, **_kwargs) -> None:
    """Add one call of this operation to every active counter, then wait for this thread's pacer."""
    if _retrying.get():
        return  # a budgeted retry is the same call again, as botocore's own retries are
    for counter in list(_listeners):
        counter[model.name] += 1
    pacer = getattr(_pacing, "pacer", None)
    if pacer is not None:
        pacer(model.name)


@functools.cache
def _session() -> boto3.session.Session:
    """Return the one boto3 session clients are built from: it loads the service model once."""
    return boto3.session.Session()


def _build(connect_timeout: float, read_timeout: float, attempts: int):
    """Return the cognito-idp client with these timeouts and botocore attempts, built once."""
    key = (settings.COGNITO_REGION, settings.COGNITO_ENDPOINT_URL, connect_timeout, read_timeout, attempts)
    with _lock:
        if key not in _clients:
            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"mode": "standard", "total_max_attempts": attempts},
            )
            built = _session().client(
                "cognito-idp",
                region_name=settings.COGNITO_REGION,
                endpoint_url=settings.COGNITO_ENDPOINT_URL,
                config=config,
            )
            built.meta.events.register("before-call.cognito-idp", _count_call)
            for event, handler, first in _hooks:
                (built.meta.events.register_first if first else built.meta.events.register)(event, handler)
            _clients[key] = built
        return _clients[key]


def client():
    """Return the client of background work: the configured timeouts and botocore's standard retries."""
    return _build(settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT, settings.COGNITO_MAX_ATTEMPTS)


def reset_client() -> None:
    """Forget every built client and handler, so the next call builds a fresh client (from the same session)."""
    with _lock:
        _clients.clear()
        _hooks.clear()


@contextmanager
def count_calls() -> Iterator[Counter]:
    """Count Cognito API calls by operation name while the block runs (retries not counted)."""
    counter: Counter = Counter()
    _listeners.append(counter)
    try:
        yield counter
    finally:
        _listeners.remove(counter)


_pacing = threading.local()


@contextmanager
def pace(pacer) -> Iterator[None]:
    """Call pacer(operation) before each Cognito call this thread makes in the block (bulk work's rate)."""
    previous = getattr(_pacing, "pacer", None)
    _pacing.pacer = pacer
    try:
        yield
    finally:
        _pacing.pacer = previous


def on_event(event: str, handler, *, first: bool = False) -> None:
    """Register a botocore event handler on every client, built or to be built (tests simulate faults so)."""
    with _lock:
        _hooks.append((event, handler, first))
        for built in _clients.values():
            (built.meta.events.register_first if first else built.meta.events.register)(event, handler)


def off_event(event: str, handler) -> None:
    """Remove a handler registered with on_event."""
    with _lock:
        _hooks[:] = [hook for hook in _hooks if hook[:2] != (event, handler)]
        for built in _clients.values():
            built.meta.events.unregister(event, handler)


# --- A web request's time budget ----------------------------------------------------------------

STEP = 0.5  # attempt timeouts are whole half-seconds, so that a process builds only a few clients
BACKOFF_MAX = 0.5  # the longest a call in a budget sleeps before trying again
BUDGET_SPENT = "Cognito did not answer within the time this request may wait"
_deadline: ContextVar[float | None] = ContextVar("cognito_deadline", default=None)
_clock, _sleep = time.monotonic, time.sleep  # tests simulate a hang by moving a clock of their own
_watchers: list[list] = []


@dataclass(frozen=True)
class CallAttempt:
    """How one attempt of a call in a budget was made: its timeouts and the back-off slept before it."""

    operation: str
    connect_timeout: float
    read_timeout: float
    backoff: float = 0.0


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Give every Cognito call in the block one deadline `seconds` from now (a nested budget only shortens it)."""
    end, current = _clock() + seconds, _deadline.get()
    token = _deadline.set(end if current is None else min(current, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Return the seconds left of this context's budget, or None outside one (background work)."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - _clock())


def attempt_timeouts(left: float) -> tuple[float, float] | None:
    """Return (connect, read) timeouts that fit in `left` seconds together, or None when too little is left."""
    whole = math.floor(left / STEP) * STEP
    if whole < 2 * STEP:
        return None
    connect = min(settings.COGNITO_CONNECT_TIMEOUT, max(STEP, math.floor(whole / 2 / STEP) * STEP))
    return connect, min(settings.COGNITO_READ_TIMEOUT, whole - connect)


def http_timeouts() -> tuple[float, float]:
    """Return (connect, read) timeouts for a plain HTTP request to Cognito (the JWKS), within any budget."""
    left = remaining()
    if left is None:
        return settings.COGNITO_CONNECT_TIMEOUT, settings.COGNITO_READ_TIMEOUT
    timeouts = attempt_timeouts(left)
    if timeouts is None:
        raise CognitoTimeout(BUDGET_SPENT, "RequestBudgetSpent")
    return timeouts


def backoff(attempt: int) -> float:
    """Return the pause before retry number `attempt` in a budget: jittered, never above BACKOFF_MAX."""
    return random.uniform(0, min(BACKOFF_MAX, 0.1 * 2 ** (attempt - 1)))


@contextmanager
def watch_attempts() -> Iterator[list[CallAttempt]]:
    """Collect every budgeted attempt made while the block runs (tests check the timeouts used)."""
    seen: list[CallAttempt] = []
    _watchers.append(seen)
    try:
        yield seen
    finally:
        _watchers.remove(seen)


def _in_budget(operation: str, params: dict) -> dict[str, Any]:
    """Call within this context's deadline: attempts sized to the time left, short back-offs, then give up."""
    number, pause = 0, 0.0
    while True:
        number += 1
        timeouts = attempt_timeouts(remaining())
        if timeouts is None:
            raise CognitoTimeout(BUDGET_SPENT, "RequestBudgetSpent")
        for seen in list(_watchers):
            seen.append(CallAttempt(operation, *timeouts, backoff=pause))
        token = _retrying.set(number > 1)
        try:
            return _send(_build(*timeouts, attempts=1), operation, params)
        except CognitoFault:
            pause = backoff(number)
            if number >= settings.COGNITO_MAX_ATTEMPTS or attempt_timeouts(remaining() - pause) is None:
                raise
        finally:
            _retrying.reset(token)
        _sleep(pause)


_target = threading.local()


@contextmanager
def target(user_pool_id: str, app_client_id: str = "", app_client_secret: str = "") -> Iterator[None]:
    """Direct this thread's calls at another pool than the configured one (bootstrap uses it)."""
    previous = getattr(_target, "value", None)
    _target.value = (user_pool_id, app_client_id, app_client_secret)
    try:
        yield
    finally:
        _target.value = previous


def _targeted(index: int, setting: str) -> str:
    """Return the targeted value at `index`, else the setting's."""
    value = getattr(_target, "value", None)
    return value[index] if value else getattr(settings, setting)


def pool_id() -> str:
    """Return the user pool ID, or raise ImproperlyConfigured naming the setting."""
    value = _targeted(0, "COGNITO_USER_POOL_ID")
    if not value:
        raise ImproperlyConfigured("COGNITO_USER_POOL_ID is not set.")
    return value


def client_id() -> str:
    """Return the portal's app client ID, or raise ImproperlyConfigured naming the setting."""
    value = _targeted(1, "COGNITO_APP_CLIENT_ID")
    if not value:
        raise ImproperlyConfigured("COGNITO_APP_CLIENT_ID is not set.")
    return value


def client_secret() -> str:
    """Return the portal's app client secret ('' for a client without one)."""
    return _targeted(2, "COGNITO_APP_CLIENT_SECRET")


def secret_hash(username: str, app_client_id: str, app_client_secret: str) -> str:
    """Return Cognito's SECRET_HASH: base64 HMAC-SHA256 of username + client ID, keyed by the secret."""
    digest = hmac.new(app_client_secret.encode(), (username + app_client_id).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _with_secret(username: str, params: dict[str, str]) -> dict[str, str]:
    """Add SECRET_HASH to auth parameters when the portal's client has a secret."""
    if client_secret():
        params["SECRET_HASH"] = secret_hash(canonical_username(username), client_id(), client_secret())
    return params


def canonical_username(value: str) -> str:
    """Return the username as the pool compares it: emails lower-case (the pool is case-insensitive)."""
    return value.strip().lower() if "@" in value else value


@sensitive_variables("params")  # passwords, codes, tokens and sessions stay out of error reports
def call(operation: str, **params) -> dict[str, Any]:
    """Call one Cognito operation, within this context's budget if any; failures become the gateway's exceptions."""
    if "Username" in params:
        params["Username"] = canonical_username(params["Username"])
    for key in ("AuthParameters", "ChallengeResponses"):
        if "USERNAME" in params.get(key, {}):
            params[key]["USERNAME"] = canonical_username(params[key]["USERNAME"])
    if _deadline.get() is not None:
        return _in_budget(operation, params)
    return _send(client(), operation, params)


def _send(built, operation: str, params: dict) -> dict[str, Any]:
    """Make one call with a built client, turning its failures into the gateway's exceptions."""
    try:
        return getattr(built, operation)(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        raise _ERRORS.get(code, CognitoError)(error.get("Message", ""), code) from None
    except ReadTimeoutError as exc:
        raise CognitoTimeout(f"Cognito did not answer in time: {exc.__class__.__name__}") from None
    except (EndpointConnectionError, ConnectTimeoutError, BotoConnectionError) as exc:
        raise CognitoUnavailable(f"Cognito could not be reached: {exc.__class__.__name__}") from None
    except BotoCoreError as exc:
        raise CognitoError(str(exc), exc.__class__.__name__) from None


def _paginate(operation: str, result_key: str, token_key: str, **params) -> Iterator[dict]:
    """Yield every item of a paginated operation, page by page."""
    while True:
        page = call(operation, **params)
        yield from page.get(result_key, [])
        token = page.get(token_key)
        if not token:
            return
        params[token_key] = token


# --- Conversions -------------------------------------------------------------------------------


def _attributes(items: list[dict]) -> dict[str, str]:
    """Turn Cognito's [{'Name': ..., 'Value': ...}] into a dict."""
    return {item["Name"]: item.get("Value", "") for item in items or []}


def _attribute_list(attributes: dict[str, str]) -> list[dict[str, str]]:
    """Turn a dict into Cognito's [{'Name': ..., 'Value': ...}]."""
    return [{"Name": name, "Value": str(value)} for name, value in attributes.items()]


def _user(data: dict, attributes_key: str = "Attributes") -> User:
    """Build a User from a ListUsers, AdminGetUser or AdminCreateUser item."""
    return User(
        username=data["Username"],
        attributes=_attributes(data.get(attributes_key, [])),
        status=data.get("UserStatus", ""),
        enabled=data.get("Enabled", True),
        created=data.get("UserCreateDate"),
        modified=data.get("UserLastModifiedDate"),
        mfa=tuple(data.get("UserMFASettingList", []) or []),
    )


def _group(data: dict) -> Group:
    """Build a Group from a Cognito group item."""
    return Group(
        name=data["GroupName"],
        description=data.get("Description", ""),
        role_arn=data.get("RoleArn", ""),
        precedence=data.get("Precedence"),
    )


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


# --- Users -------------------------------------------------------------------------------------


def user_get(username: str) -> User:
    """Return one user, read live (AdminGetUser)."""
    return _user(call("admin_get_user", UserPoolId=pool_id(), Username=username), "UserAttributes")


def users_list(filter_expression: str = "", page_size: int = 60) -> Iterator[User]:
    """Yield every user of the pool (ListUsers, 60 a page), optionally filtered."""
    params: dict[str, Any] = {"UserPoolId": pool_id(), "Limit": page_size}
    if filter_expression:
        params["Filter"] = filter_expression
    for item in _paginate("list_users", "Users", "PaginationToken", **params):
        yield _user(item)


def user_by_email(email: str) -> User | None:
    """Return the pool's user with this email (ListUsers, filtered), or None."""
    return next(users_list(f'email = "{email.lower()}"'), None)


def users_in_group(group: str, page_size: int = 60) -> Iterator[User]:
    """Yield every member of a group (ListUsersInGroup, 60 a page)."""
    params = {"UserPoolId": pool_id(), "GroupName": group, "Limit": page_size}
    for item in _paginate("list_users_in_group", "Users", "NextToken", **params):
        yield _user(item)


@sensitive_variables()
def user_create(
    email: str, attributes: dict[str, str], *, temporary_password: str = "", send_invitation: bool = True
) -> User:
    """Create a user signing in by email; Cognito sends the invitation unless told not to."""
    params: dict[str, Any] = {
        "UserPoolId": pool_id(),
        "Username": email,
        "UserAttributes": _attribute_list({"email": email, "email_verified": "true", **attributes}),
        "DesiredDeliveryMediums": ["EMAIL"],
    }
    if temporary_password:
        params["TemporaryPassword"] = temporary_password
    if not send_invitation:
        params["MessageAction"] = "SUPPRESS"
    return _user(call("admin_create_user", **params)["User"])


def user_update_attributes(username: str, attributes: dict[str, str]) -> None:
    """Write several attributes in one call (AdminUpdateUserAttributes)."""
    call(
        "admin_update_user_attributes",
        UserPoolId=pool_id(),
        Username=username,
        UserAttributes=_attribute_list(attributes),
    )


def user_groups(username: str) -> list[str]:
    """Return the names of the groups a user belongs to."""
    params = {"UserPoolId": pool_id(), "Username": username, "Limit": 60}
    return [item["GroupName"] for item in _paginate("admin_list_groups_for_user", "Groups", "NextToken", **params)]


def user_add_to_group(username: str, group: str) -> None:
    """Add a user to a group."""
    call("admin_add_user_to_group", UserPoolId=pool_id(), Username=username, GroupName=group)


def user_remove_from_group(username: str, group: str) -> None:
    """Remove a user from a group."""
    call("admin_remove_user_from_group", UserPoolId=pool_id(), Username=username, GroupName=group)


def user_disable(username: str) -> None:
    """Disable a user: they can no longer sign in."""
    call("admin_disable_user", UserPoolId=pool_id(), Username=username)


def user_enable(username: str) -> None:
    """Enable a disabled user."""
    call("admin_enable_user", UserPoolId=pool_id(), Username=username)


def user_reset_password(username: str) -> None:
    """Reset a user's password: Cognito sends a code to their verified email."""
    call("admin_reset_user_password", UserPoolId=pool_id(), Username=username)


@sensitive_variables()
def user_set_password(username: str, password: str, *, permanent: bool) -> None:
    """Set a user's password, permanent or temporary."""
    call(
        "admin_set_user_password",
        UserPoolId=pool_id(),
        Username=username,
        Password=password,
        Permanent=permanent,
    )


def user_delete(username: str) -> None:
    """Delete a user."""
    call("admin_delete_user", UserPoolId=pool_id(), Username=username)


def user_sign_out_everywhere(username: str) -> None:
    """Revoke every refresh token the user holds (AdminUserGlobalSignOut)."""
    call("admin_user_global_sign_out", UserPoolId=pool_id(), Username=username)


# --- Sign-in -----------------------------------------------------------------------------------


@sensitive_variables()
def auth_password(username: str, password: str) -> AuthResult:
    """Start a sign-in with username and password (ADMIN_USER_PASSWORD_AUTH)."""
    params = _with_secret(username, {"USERNAME": username, "PASSWORD": password})
    response = call(
        "admin_initiate_auth",
        UserPoolId=pool_id(),
        ClientId=client_id(),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters=params,
    )
    return _auth_result(response)


@sensitive_variables()
def auth_refresh(username: str, refresh_token: str) -> AuthResult:
    """Exchange a refresh token for new ID and access tokens; `username` is the user's sub."""
    params = _with_secret(username, {"REFRESH_TOKEN": refresh_token})
    response = call(
        "admin_initiate_auth",
        UserPoolId=pool_id(),
        ClientId=client_id(),
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters=params,
    )
    return _auth_result(response)


@sensitive_variables()
def auth_respond(challenge: str, session: str, username: str, answers: dict[str, str]) -> AuthResult:
    """Answer a sign-in challenge (NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, MFA_SETUP)."""
    responses = _with_secret(username, {"USERNAME": username, **answers})
    response = call(
        "admin_respond_to_auth_challenge",
        UserPoolId=pool_id(),
        ClientId=client_id(),
        ChallengeName=challenge,
        Session=session,
        ChallengeResponses=responses,
    )
    return _auth_result(response)


EMULATOR_CODE_PREFIX = "moto-confirmation-code:"  # how the embedded emulator marks the codes it checks


def password_forgot(username: str) -> str:
    """Ask Cognito to send a reset code; return the code only when the embedded emulator exposes it."""
    params: dict[str, Any] = {"ClientId": client_id(), "Username": username}
    if client_secret():
        params["SecretHash"] = secret_hash(canonical_username(username), client_id(), client_secret())
    response = call("forgot_password", **params)
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
        "ClientId": client_id(),
        "Username": username,
        "ConfirmationCode": code,
        "Password": password,
    }
    if client_secret():
        params["SecretHash"] = secret_hash(canonical_username(username), client_id(), client_secret())
    call("confirm_forgot_password", **params)


@sensitive_variables()
def password_change(access_token: str, old_password: str, new_password: str) -> None:
    """Change the signed-in user's own password."""
    call("change_password", AccessToken=access_token, PreviousPassword=old_password, ProposedPassword=new_password)


@sensitive_variables()
def token_associate(*, access_token: str = "", session: str = "") -> tuple[str, str]:
    """Start TOTP enrolment; return (secret, session)."""
    params = {"AccessToken": access_token} if access_token else {"Session": session}
    response = call("associate_software_token", **params)
    return response["SecretCode"], response.get("Session", "")


@sensitive_variables()
def token_verify(code: str, *, access_token: str = "", session: str = "") -> str:
    """Verify a TOTP code to finish enrolment; return the new session (empty with an access token)."""
    params: dict[str, Any] = {"UserCode": code, "FriendlyDeviceName": "portal"}
    params.update({"AccessToken": access_token} if access_token else {"Session": session})
    response = call("verify_software_token", **params)
    if response.get("Status") != "SUCCESS":
        raise CodeMismatch("The code was not accepted.", "CodeMismatchException")
    return response.get("Session", "")


def user_set_totp_preference(username: str, *, enabled: bool) -> None:
    """Turn TOTP MFA on or off for a user, as their preferred method."""
    call(
        "admin_set_user_mfa_preference",
        UserPoolId=pool_id(),
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": enabled, "PreferredMfa": enabled},
    )


@sensitive_variables()
def sign_out_everywhere(access_token: str) -> None:
    """Revoke every refresh token of the token's owner (GlobalSignOut)."""
    call("global_sign_out", AccessToken=access_token)


# --- Groups ------------------------------------------------------------------------------------


def groups_list() -> list[Group]:
    """Return every group of the pool."""
    params = {"UserPoolId": pool_id(), "Limit": 60}
    return [_group(item) for item in _paginate("list_groups", "Groups", "NextToken", **params)]


def group_get(name: str) -> Group:
    """Return one group."""
    return _group(call("get_group", UserPoolId=pool_id(), GroupName=name)["Group"])


def group_create(name: str, description: str = "", role_arn: str = "", precedence: int | None = None) -> Group:
    """Create a group."""
    params: dict[str, Any] = {"UserPoolId": pool_id(), "GroupName": name, "Description": description}
    if role_arn:
        params["RoleArn"] = role_arn
    if precedence is not None:
        params["Precedence"] = precedence
    return _group(call("create_group", **params)["Group"])


def group_update(name: str, description: str = "", role_arn: str = "", precedence: int | None = None) -> Group:
    """Update a group's description, IAM role and precedence."""
    params: dict[str, Any] = {"UserPoolId": pool_id(), "GroupName": name, "Description": description}
    if role_arn:
        params["RoleArn"] = role_arn
    if precedence is not None:
        params["Precedence"] = precedence
    return _group(call("update_group", **params)["Group"])


def group_delete(name: str) -> None:
    """Delete a group (its members keep their accounts)."""
    call("delete_group", UserPoolId=pool_id(), GroupName=name)


# --- Pools and app clients (bootstrap and health) ----------------------------------------------


def pools_list() -> list[tuple[str, str]]:
    """Return (id, name) for every user pool in the region."""
    return [(item["Id"], item["Name"]) for item in _paginate("list_user_pools", "UserPools", "NextToken", MaxResults=60)]


def pool_describe(user_pool_id: str) -> PoolInfo:
    """Return what Cognito says about a pool."""
    pool = call("describe_user_pool", UserPoolId=user_pool_id)["UserPool"]
    return PoolInfo(
        id=pool["Id"],
        name=pool.get("Name", ""),
        attributes={item["Name"]: item for item in pool.get("SchemaAttributes", [])},
        mfa=pool.get("MfaConfiguration", "OFF"),
        password_policy=pool.get("Policies", {}).get("PasswordPolicy", {}),
        username_attributes=tuple(pool.get("UsernameAttributes", []) or []),
        raw=pool,
    )


def pool_create(**params) -> str:
    """Create a user pool; return its ID."""
    return call("create_user_pool", **params)["UserPool"]["Id"]


def pool_add_attributes(user_pool_id: str, schema: list[dict]) -> None:
    """Add custom attributes to an existing pool."""
    call("add_custom_attributes", UserPoolId=user_pool_id, CustomAttributes=schema)


def pool_set_mfa(user_pool_id: str, mode: str) -> None:
    """Set the pool's MFA configuration (OFF, OPTIONAL, ON) with TOTP allowed."""
    call(
        "set_user_pool_mfa_config",
        UserPoolId=user_pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": mode != "OFF"},
        MfaConfiguration=mode,
    )


def clients_list(user_pool_id: str) -> list[tuple[str, str]]:
    """Return (id, name) for every app client of a pool."""
    params = {"UserPoolId": user_pool_id, "MaxResults": 60}
    return [(item["ClientId"], item["ClientName"]) for item in _paginate("list_user_pool_clients", "UserPoolClients", "NextToken", **params)]


def _client_info(data: dict) -> ClientInfo:
    """Build a ClientInfo from a DescribeUserPoolClient or CreateUserPoolClient response."""
    return ClientInfo(
        id=data["ClientId"],
        name=data.get("ClientName", ""),
        secret=data.get("ClientSecret", ""),
        auth_flows=tuple(data.get("ExplicitAuthFlows", []) or []),
        read_attributes=tuple(data.get("ReadAttributes", []) or []),
        write_attributes=tuple(data.get("WriteAttributes", []) or []),
        id_token_minutes=_validity_minutes(data, "IdToken", "hours", default_minutes=60),
        access_token_minutes=_validity_minutes(data, "AccessToken", "hours", default_minutes=60),
        refresh_token_minutes=_validity_minutes(data, "RefreshToken", "days", default_minutes=30 * 1440),
        raw=data,
    )


def _validity_minutes(data: dict, token: str, default_unit: str, *, default_minutes: int) -> int:
    """Return a client's token lifetime in minutes, with Cognito's defaults when it sets none."""
    value = data.get(f"{token}Validity")
    if value is None:
        return default_minutes
    unit = (data.get("TokenValidityUnits") or {}).get(token, default_unit)
    return int(value * {"seconds": 1 / 60, "minutes": 1, "hours": 60, "days": 1440}[unit])


def client_describe(user_pool_id: str, app_client_id: str) -> ClientInfo:
    """Return what Cognito says about an app client."""
    data = call("describe_user_pool_client", UserPoolId=user_pool_id, ClientId=app_client_id)
    return _client_info(data["UserPoolClient"])


def client_create(user_pool_id: str, **params) -> ClientInfo:
    """Create an app client."""
    data = call("create_user_pool_client", UserPoolId=user_pool_id, **params)
    return _client_info(data["UserPoolClient"])


def client_update(user_pool_id: str, app_client_id: str, **params) -> ClientInfo:
    """Update an app client (every setting not passed returns to its default)."""
    data = call("update_user_pool_client", UserPoolId=user_pool_id, ClientId=app_client_id, **params)
    return _client_info(data["UserPoolClient"])

