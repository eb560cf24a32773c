"""Groups: listing, reading, creating, updating, deleting."""

from typing import Any

import accounts.cognito.client as client
from accounts.cognito.types import Group


def _group(data: dict) -> Group:
    """Build a Group from a Cognito group item."""
    return Group(
        name=data["GroupName"],
        description=data.get("Description", ""),
        role_arn=data.get("RoleArn", ""),
        precedence=data.get("Precedence"),
    )


def groups_list() -> list[Group]:
    """Return every group of the pool."""
    params = {"UserPoolId": client.pool_id(), "Limit": 60}
    return [_group(item) for item in client.paginate("list_groups", "Groups", "NextToken", **params)]


def group_get(name: str) -> Group:
    """Return one group."""
    return _group(client.call("get_group", UserPoolId=client.pool_id(), GroupName=name)["Group"])


def _group_params(name: str, description: str, role_arn: str, precedence: int | None) -> dict[str, Any]:
    """Return the parameters of CreateGroup and UpdateGroup (the IAM role and precedence only when given)."""
    params: dict[str, Any] = {"UserPoolId": client.pool_id(), "GroupName": name, "Description": description}
    if role_arn:
        params["RoleArn"] = role_arn
    if precedence is not None:
        params["Precedence"] = precedence
    return params


def group_create(name: str, description: str = "", role_arn: str = "", precedence: int | None = None) -> Group:
    """Create a group."""
    return _group(client.call("create_group", **_group_params(name, description, role_arn, precedence))["Group"])


def group_update(name: str, description: str = "", role_arn: str = "", precedence: int | None = None) -> Group:
    """Update a group's description, IAM role and precedence."""
    return _group(client.call("update_group", **_group_params(name, description, role_arn, precedence))["Group"])


def group_delete(name: str) -> None:
    """Delete a group (its members keep their accounts)."""
    client.call("delete_group", UserPoolId=client.pool_id(), GroupName=name)
