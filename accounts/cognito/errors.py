"""The gateway's exceptions, and the one mapping of Cognito's error codes to them."""


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


class UnsupportedUserState(CognitoError):
    """The user's state does not allow the request (an invitation resent to a user who already signed in)."""


class TooManyAttempts(CognitoError):
    """A per-user limit of Cognito (too many failed codes, resets or changes for this user): wait, then retry."""


TOO_MANY_ATTEMPTS = (
    "Cognito refuses more attempts for this account for now (too many failed codes or requests "
    "for it). Nothing was changed: wait a few minutes, then try again."
)


class CognitoFault(CognitoError):
    """Cognito is busy or down: the one base class of the faults that a later attempt may not meet."""


class Throttled(CognitoFault):
    """Cognito kept throttling after every retry."""


class CognitoUnavailable(CognitoFault):
    """Cognito could not be reached."""


class CognitoTimeout(CognitoUnavailable):
    """Cognito did not answer in the time left: a write it was sent may or may not have been applied."""


ERRORS: dict[str, type[CognitoError]] = {
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
    "UnsupportedUserStateException": UnsupportedUserState,
    "TooManyRequestsException": Throttled,
    "LimitExceededException": TooManyAttempts,
    "TooManyFailedAttemptsException": TooManyAttempts,
    "InternalErrorException": CognitoUnavailable,
    "ServiceUnavailable": CognitoUnavailable,
}
