"""Users: reading, creating, changing, group memberships, disabling, deleting, signing out everywhere."""

from collections.abc import Iterator
from typing import Any

from django.views.decorators.debug import sensitive_variables

import accounts.cognito.client as client
from accounts.cognito.types import User


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


def user_get(username: str) -> User:
    """Return one user, read live (AdminGetUser)."""
    return _user(client.call("admin_get_user", UserPoolId=client.pool_id(), Username=username), "UserAttributes")


def users_list(filter_expression: str = "", page_size: int = 60) -> Iterator[User]:
    """Yield every user of the pool (ListUsers, 60 a page), optionally filtered."""
    params: dict[str, Any] = {"UserPoolId": client.pool_id(), "Limit": page_size}
    if filter_expression:
        params["Filter"] = filter_expression
    for item in client.paginate("list_users", "Users", "PaginationToken", **params):
        yield _user(item)


def user_by_email(email: str) -> User | None:
    """Return the pool's user with this email (ListUsers, filtered), or None."""
    return next(users_list(f'email = "{email.lower()}"'), None)


def users_in_group(group: str, page_size: int = 60) -> Iterator[User]:
    """Yield every member of a group (ListUsersInGroup, 60 a page)."""
    params = {"UserPoolId": client.pool_id(), "GroupName": group, "Limit": page_size}
    for item in client.paginate("list_users_in_group", "Users", "NextToken", **params):
        yield _user(item)


@sensitive_variables()
def user_create(
    email: str, attributes: dict[str, str], *, temporary_password: str = "", send_invitation: bool = True
) -> User:
    """Create a user signing in by email; Cognito sends the invitation unless told not to."""
    params: dict[str, Any] = {
        "UserPoolId": client.pool_id(),
        "Username": email,
        "UserAttributes": _attribute_list({"email": email, "email_verified": "true", **attributes}),
        "DesiredDeliveryMediums": ["EMAIL"],
    }
    if temporary_password:
        params["TemporaryPassword"] = temporary_password
    if not send_invitation:
        params["MessageAction"] = "SUPPRESS"
    return _user(client.call("admin_create_user", **params)["User"])


@sensitive_variables()
def user_resend_invitation(username: str, *, temporary_password: str = "") -> User:
    """Send the invitation again to a user who never signed in (AdminCreateUser, MessageAction RESEND)."""
    params: dict[str, Any] = {
        "UserPoolId": client.pool_id(),
        "Username": username,
        "MessageAction": "RESEND",
        "DesiredDeliveryMediums": ["EMAIL"],
    }
    if temporary_password:
        params["TemporaryPassword"] = temporary_password
    return _user(client.call("admin_create_user", **params)["User"])


def user_update_attributes(username: str, attributes: dict[str, str]) -> None:
    """Write several attributes in one call (AdminUpdateUserAttributes)."""
    client.call(
        "admin_update_user_attributes",
        UserPoolId=client.pool_id(),
        Username=username,
        UserAttributes=_attribute_list(attributes),
    )


def user_groups(username: str) -> list[str]:
    """Return the names of the groups a user belongs to."""
    params = {"UserPoolId": client.pool_id(), "Username": username, "Limit": 60}
    pages = client.paginate("admin_list_groups_for_user", "Groups", "NextToken", **params)
    return [item["GroupName"] for item in pages]


def user_add_to_group(username: str, group: str) -> None:
    """Add a user to a group."""
    client.call("admin_add_user_to_group", UserPoolId=client.pool_id(), Username=username, GroupName=group)


def user_remove_from_group(username: str, group: str) -> None:
    """Remove a user from a group."""
    client.call("admin_remove_user_from_group", UserPoolId=client.pool_id(), Username=username, GroupName=group)


def user_disable(username: str) -> None:
    """Disable a user: they can no longer sign in."""
    client.call("admin_disable_user", UserPoolId=client.pool_id(), Username=username)


def user_enable(username: str) -> None:
    """Enable a disabled user."""
    client.call("admin_enable_user", UserPoolId=client.pool_id(), Username=username)


def user_reset_password(username: str) -> None:
    """Reset a user's password: Cognito sends a code to their verified email."""
    client.call("admin_reset_user_password", UserPoolId=client.pool_id(), Username=username)


@sensitive_variables()
def user_set_password(username: str, password: str, *, permanent: bool) -> None:
    """Set a user's password, permanent or temporary."""
    client.call(
        "admin_set_user_password",
        UserPoolId=client.pool_id(),
        Username=username,
        Password=password,
        Permanent=permanent,
    )


def user_delete(username: str) -> None:
    """Delete a user."""
    client.call("admin_delete_user", UserPoolId=client.pool_id(), Username=username)


def user_sign_out_everywhere(username: str) -> None:
    """Revoke every refresh token the user holds (AdminUserGlobalSignOut)."""
    client.call("admin_user_global_sign_out", UserPoolId=client.pool_id(), Username=username)
