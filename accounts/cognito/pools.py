"""Pools and app clients: what bootstrap and health create, read and change."""

import accounts.cognito.client as client
from accounts.cognito.types import ClientInfo, PoolInfo


def pools_list() -> list[tuple[str, str]]:
    """Return (id, name) for every user pool in the region."""
    pages = client.paginate("list_user_pools", "UserPools", "NextToken", MaxResults=60)
    return [(item["Id"], item["Name"]) for item in pages]


def pool_describe(user_pool_id: str) -> PoolInfo:
    """Return what Cognito says about a pool."""
    pool = client.call("describe_user_pool", UserPoolId=user_pool_id)["UserPool"]
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
    return client.call("create_user_pool", **params)["UserPool"]["Id"]


def pool_add_attributes(user_pool_id: str, schema: list[dict]) -> None:
    """Add custom attributes to an existing pool."""
    client.call("add_custom_attributes", UserPoolId=user_pool_id, CustomAttributes=schema)


def pool_set_mfa(user_pool_id: str, mode: str) -> None:
    """Set the pool's MFA configuration (OFF, OPTIONAL, ON) with TOTP allowed."""
    client.call(
        "set_user_pool_mfa_config",
        UserPoolId=user_pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": mode != "OFF"},
        MfaConfiguration=mode,
    )


def clients_list(user_pool_id: str) -> list[tuple[str, str]]:
    """Return (id, name) for every app client of a pool."""
    params = {"UserPoolId": user_pool_id, "MaxResults": 60}
    pages = client.paginate("list_user_pool_clients", "UserPoolClients", "NextToken", **params)
    return [(item["ClientId"], item["ClientName"]) for item in pages]


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
    data = client.call("describe_user_pool_client", UserPoolId=user_pool_id, ClientId=app_client_id)
    return _client_info(data["UserPoolClient"])


def client_create(user_pool_id: str, **params) -> ClientInfo:
    """Create an app client."""
    data = client.call("create_user_pool_client", UserPoolId=user_pool_id, **params)
    return _client_info(data["UserPoolClient"])


def client_update(user_pool_id: str, app_client_id: str, **params) -> ClientInfo:
    """Update an app client (every setting not passed returns to its default)."""
    data = client.call("update_user_pool_client", UserPoolId=user_pool_id, ClientId=app_client_id, **params)
    return _client_info(data["UserPoolClient"])
