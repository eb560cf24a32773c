"""The baseline of the access-check benchmark: a WSGI app that only verifies the token (cognito_access).

It takes the same request as the access-check API ({"token", "application"} JSON, POST) and answers
with the claims' groups, so the difference from the portal's API is the API key, the rate limit, the
logging and the directory-index read. Configured from the same environment variables as the portal.
"""

import json
import os

from cognito_access import Config, TokenError, Verifier

_region = os.environ.get("COGNITO_REGION", "us-east-1")
_pool = os.environ["COGNITO_USER_POOL_ID"]
_endpoint = os.environ.get("COGNITO_ENDPOINT_URL", "").rstrip("/")
verifier = Verifier(
    Config(
        region=_region,
        user_pool_id=_pool,
        client_ids=(os.environ["COGNITO_CLIENT_ID_BILLING"],),
        jwks_url=f"{_endpoint}/{_pool}/.well-known/jwks.json" if _endpoint else "",
    )
)


def application(environ, start_response):
    """Verify the posted token; answer 200 with its groups or 401."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    data = json.loads(environ["wsgi.input"].read(min(length, 16384)) or b"{}")
    try:
        claims = verifier.verify(data.get("token", ""))
        status, body = "200 OK", {"allowed": True, "groups": list(claims.groups)}
    except TokenError:
        status, body = "401 Unauthorized", {"error": "Unauthorized"}
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
