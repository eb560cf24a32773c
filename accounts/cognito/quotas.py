"""Cognito's request rate quotas: which category each operation counts against, and one bucket's arithmetic.

Cognito limits the requests of an account per category of operations, not per operation ("Quotas in Amazon
Cognito", https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html#category_operations, the table
"Amazon Cognito user pools API operation categories and request rate quotas"). Background work takes a slot
of its call's category before every HTTP attempt; a category's bucket runs at PORTAL_COGNITO_QUOTA_SHARE of
its quota (PORTAL_COGNITO_QUOTAS), times a factor that throttling halves (at most once a second) and that
comes back additively (AIMD). The bucket is a virtual schedule (GCRA): `next_at` is when the next slot is
free; a background caller waits for it, a web request goes at once and pushes the schedule back instead.
Pure functions of the state and a clock reading; accounts/cognito/buckets.py keeps the state in the database.
"""

import math
from dataclasses import dataclass, replace

from django.conf import settings

# As AWS's table lists them (read 2026-12-01): every operation the portal calls, and their neighbours. Two
# exceptions are not modelled: a challenge answered with NEW_PASSWORD_REQUIRED counts as UserAccountRecovery,
# and each operation of the UserPool* categories is also held to 5 requests/s per pool (the portal calls them
# only while setting a pool up).
OPERATIONS = {
    "UserAuthentication": (
        "AdminInitiateAuth",
        "AdminRespondToAuthChallenge",
        "InitiateAuth",
        "RespondToAuthChallenge",
        "GetTokensFromRefreshToken",
    ),
    "UserCreation": ("AdminCreateUser", "SignUp", "ConfirmSignUp", "AdminConfirmSignUp"),
    "UserAccountRecovery": (
        "ForgotPassword",
        "ConfirmForgotPassword",
        "AdminResetUserPassword",
        "AdminSetUserPassword",
        "ChangePassword",
    ),
    "UserRead": ("AdminGetUser", "GetUser", "AdminGetUserAuthFactors"),
    "UserUpdate": (
        "AdminAddUserToGroup",
        "AdminRemoveUserFromGroup",
        "AdminUpdateUserAttributes",
        "AdminDeleteUserAttributes",
        "AdminDeleteUser",
        "AdminDisableUser",
        "AdminEnableUser",
        "AdminUserGlobalSignOut",
        "GlobalSignOut",
        "UpdateUserAttributes",
        "DeleteUser",
        "VerifyUserAttribute",
    ),
    "UserToken": ("RevokeToken",),
    "UserResourceRead": ("AdminListGroupsForUser", "AdminListDevices", "AdminGetDevice", "AdminListUserAuthEvents"),
    "UserResourceUpdate": (
        "AdminSetUserMFAPreference",
        "SetUserMFAPreference",
        "AssociateSoftwareToken",
        "VerifySoftwareToken",
        "AdminSetUserSettings",
        "AdminForgetDevice",
    ),
    "UserList": ("ListUsers", "ListUsersInGroup"),
    "UserPoolRead": ("DescribeUserPool", "ListUserPools"),
    "UserPoolUpdate": ("CreateUserPool", "UpdateUserPool", "DeleteUserPool"),
    "UserPoolResourceRead": ("GetGroup", "ListGroups", "DescribeUserPoolDomain", "GetUserPoolMfaConfig"),
    "UserPoolResourceUpdate": (
        "AddCustomAttributes",
        "CreateGroup",
        "UpdateGroup",
        "DeleteGroup",
        "SetUserPoolMfaConfig",
        "CreateUserPoolDomain",
    ),
    "UserPoolClientRead": ("DescribeUserPoolClient", "ListUserPoolClients"),
    "UserPoolClientUpdate": ("CreateUserPoolClient", "UpdateUserPoolClient", "DeleteUserPoolClient"),
}
CATEGORY = {operation: category for category, operations in OPERATIONS.items() for operation in operations}

DECREASE = 0.5  # a throttle halves the category's rate...
HOLD = 1.0  # ...at most once a second (a burst of throttles is one signal)
RECOVERY = 0.05  # then it comes back by a twentieth of the share each second
FLOOR = 0.1  # and never below a tenth of it
DEBT = 1.0  # web requests push a category's schedule back by at most this many seconds
# A call sent a little after its slot (a busy machine) lands among the slots after it, so any one second may
# hold it as well as its own slots: slots are spaced for one call fewer than the rate a second (and at least
# 3 % under it), so that no second, as Cognito counts it, holds more calls than the share, late one included.
HEADROOM = 0.97


@dataclass(frozen=True)
class Bucket:
    """A category's state: the next free slot, the factor in use, when it was computed, the last decrease."""

    next_at: float
    factor: float = 1.0
    updated_at: float = 0.0
    decreased_at: float = 0.0


def category_of(operation: str) -> str:
    """Return the quota category of a Cognito operation (its botocore name), '' for one the portal never calls."""
    return CATEGORY.get(operation, "")


def category_rate(category: str) -> float:
    """Return the calls per second background work may make in `category` at full factor."""
    return settings.PORTAL_COGNITO_QUOTAS[category] * settings.PORTAL_COGNITO_QUOTA_SHARE


def interval(per_second: float) -> float:
    """Return the seconds between two slots of a bucket allowed `per_second` calls (see HEADROOM; under 2 a
    second, half the rate: there a late call may still share a second with the next)."""
    if per_second < 2:
        return 2 / per_second
    return 1 / min(per_second * HEADROOM, math.floor(per_second) - 1)


def fresh(now: float) -> Bucket:
    """Return the state of a category nobody has used yet."""
    return Bucket(next_at=now, updated_at=now, decreased_at=now - HOLD)


def recovered(bucket: Bucket, now: float) -> float:
    """Return the bucket's factor at `now`: additively back towards 1 since it was last computed."""
    return min(1.0, bucket.factor + RECOVERY * max(0.0, now - bucket.updated_at))


def take(bucket: Bucket, *, now: float, per_second: float, wait: bool) -> tuple[Bucket, float]:
    """Take the next slot; return the new state and the seconds to wait (0 for a web request, which goes now)."""
    factor = recovered(bucket, now)
    spacing = interval(per_second * factor)
    slot = max(bucket.next_at, now)
    if not wait:
        pushed = max(bucket.next_at, min(slot + spacing, now + DEBT))
        return replace(bucket, next_at=pushed, factor=factor, updated_at=now), 0.0
    return replace(bucket, next_at=slot + spacing, factor=factor, updated_at=now), slot - now


def throttled(bucket: Bucket, *, now: float) -> Bucket:
    """Return the state after Cognito throttled a call: the factor halved, unless it was within HOLD already."""
    factor = recovered(bucket, now)
    if now - bucket.decreased_at < HOLD:
        return replace(bucket, factor=factor, updated_at=now)
    return replace(bucket, factor=max(FLOOR, factor * DECREASE), updated_at=now, decreased_at=now)
