"""Make tokens for the forgery tests: with moto's signing key, another key, or none."""

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource


def moto_private_key():
    """Return the private key moto signs every pool's tokens with."""
    return jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key


def moto_public_pem() -> bytes:
    """Return moto's public signing key as PEM bytes."""
    return (
        moto_private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def claims_for(issuer: str, client_id: str, *, token_use: str = "id", lifetime: int = 900, **extra) -> dict:
    """Return plausible Cognito claims."""
    now = int(time.time())
    claims = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "iss": issuer,
        "token_use": token_use,
        "iat": now,
        "auth_time": now,
        "exp": now + lifetime,
        "cognito:groups": ["portal-admins"],
    }
    claims["aud" if token_use == "id" else "client_id"] = client_id
    claims.update(extra)
    return claims


def sign(claims: dict, key=None, kid: str = "dummy") -> str:
    """Sign claims with RS256, by default with moto's key."""
    return jwt.encode(claims, key or moto_private_key(), algorithm="RS256", headers={"kid": kid})


def other_key():
    """Return a fresh RSA key that no pool publishes."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    """Return unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict) -> str:
    """Return an `alg: none` token."""
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict) -> str:
    """Return a token HMAC-signed with the public key's PEM: the classic algorithm-confusion forgery."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "dummy"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(moto_public_pem(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def without(claims: dict, name: str) -> dict:
    """Return the claims without one of them."""
    return {key: value for key, value in claims.items() if key != name}


def with_header(token: str, header: str) -> str:
    """Return the token with its header segment replaced by this text, base64url-encoded."""
    return ".".join([_b64(header.encode()), *token.split(".")[1:]])
