"""Kiosk credentials and the short-lived tokens they are exchanged for.

A credential is 256 random bits, shown once at provisioning and stored as SHA-256 (a fast
hash is right for a secret with that much entropy). `POST /api/kiosk/token` exchanges it for
an HS256 token of `kiosk_token_ttl_s` seconds whose claims are exactly what row-level
security reads: `sub` = kiosk id, `role` = authenticated, `jarvis_role` = kiosk, `cid` = the
credential's id. Postgres checks that credential on every statement (`private.kiosk_id()`),
so revoking it takes effect on the next request even while a token is still unexpired.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from uuid import UUID

import jwt

from contract.errors import ErrorCode

CREDENTIAL_PREFIX = "jkc_"
ISSUER = "jarvis-cloud"
AUDIENCE = "jarvis-kiosk"
ALGORITHM = "HS256"


class KioskTokenError(Exception):
    """The token is missing, malformed, forged or expired; `code` says which."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def new_credential() -> str:
    return CREDENTIAL_PREFIX + secrets.token_urlsafe(32)


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def mint_token(kiosk_id: UUID, credential_id: UUID, secret: bytes, ttl_s: int) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(kiosk_id),
        "role": "authenticated",
        "jarvis_role": "kiosk",
        "cid": str(credential_id),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: bytes) -> dict[str, Any]:
    """The token's claims, or KioskTokenError. Only HS256 with our secret is accepted."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "cid", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise KioskTokenError(
            ErrorCode.TOKEN_EXPIRED,
            "The kiosk token has expired: exchange the credential for a new one.",
        ) from exc
    except jwt.PyJWTError as exc:
        raise KioskTokenError(ErrorCode.INVALID_TOKEN, "The kiosk token is not valid.") from exc
    if claims.get("jarvis_role") != "kiosk" or claims.get("role") != "authenticated":
        raise KioskTokenError(ErrorCode.INVALID_TOKEN, "The token is not a kiosk token.")
    return claims
