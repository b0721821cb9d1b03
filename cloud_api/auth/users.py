"""Dashboard users' access tokens: Supabase's (JWKS or legacy HS256) or the local issuer's.

Verification accepts ES256 and RS256 keys from the project's JWKS (cached, refetched when a
token names an unknown key id, at most once per `min_refresh_s`) and, when configured, the
legacy HS256 secret; it checks `exp`, `aud` (= authenticated) and `iss`, and refuses
`alg: none` and every algorithm not listed. The local issuer (embedded default) mints tokens
of the same shape as Supabase: `sub`, `role: authenticated`, `aal`, `email`, `exp`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from cloud_api.auth.cache import VerifiedTokens
from contract.errors import ErrorCode

AUDIENCE = "authenticated"
LOCAL_ISSUER = "jarvis-local"
ASYMMETRIC = frozenset({"ES256", "RS256"})


class UserTokenError(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class LocalIssuer:
    """Signs dashboard tokens with an ES256 key kept in the data folder."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, ttl_s: int) -> None:
        self._key = key
        self.ttl_s = ttl_s
        public_jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.kid = uuid.uuid5(uuid.NAMESPACE_URL, str(sorted(public_jwk.items()))).hex[:16]
        self._jwk = {**public_jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._jwk]}

    def mint(
        self,
        user_id: uuid.UUID,
        email: str,
        *,
        aal: str = "aal1",
        session_id: uuid.UUID | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": LOCAL_ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "email": email,
            "role": "authenticated",
            "aal": aal,
            "iat": now,
            "exp": now + self.ttl_s,
        }
        if session_id is not None:
            # As Supabase's tokens: the sign-in session this token was minted for.
            claims["session_id"] = str(session_id)
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})


class UserTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        hs256_secret: bytes | None = None,
        http: httpx.AsyncClient | None = None,
        min_refresh_s: float = 30.0,
    ) -> None:
        self.issuer = issuer
        self._jwks_url = jwks_url
        self._hs256_secret = hs256_secret
        self._http = http
        self._min_refresh_s = min_refresh_s
        self._last_fetch = float("-inf")
        self._keys: dict[str, jwt.PyJWK] = {}
        self._verified = VerifiedTokens()
        if jwks:
            self._load(jwks)

    def _load(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for key in jwt.PyJWKSet.from_dict(jwks).keys:
            if key.key_id and key.algorithm_name in ASYMMETRIC:
                keys[key.key_id] = key
        self._keys = keys

    async def _refresh(self) -> None:
        if not self._jwks_url or self._http is None:
            return
        if time.monotonic() - self._last_fetch < self._min_refresh_s:
            return
        self._last_fetch = time.monotonic()
        try:
            response = await self._http.get(self._jwks_url, timeout=5.0)
            response.raise_for_status()
            self._load(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise UserTokenError(
                ErrorCode.AUTH_UNAVAILABLE,
                "The identity provider's keys could not be fetched; retry.",
            ) from exc

    async def verify(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is None:
            claims = await self._verify(token)
            self._verified.put(token, claims)
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise UserTokenError(ErrorCode.INVALID_TOKEN, "The access token is malformed.") from exc
        alg = header.get("alg")
        if alg in ASYMMETRIC:
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise UserTokenError(ErrorCode.INVALID_TOKEN, "The access token names no key id.")
            if kid not in self._keys:
                await self._refresh()
            if kid not in self._keys:
                raise UserTokenError(ErrorCode.INVALID_TOKEN, "The access token's key is unknown.")
            jwk = self._keys[kid]
            if jwk.algorithm_name != alg:
                raise UserTokenError(
                    ErrorCode.INVALID_TOKEN, "The access token's algorithm is wrong."
                )
            key: Any = jwk.key
        elif alg == "HS256" and self._hs256_secret:
            key = self._hs256_secret
        else:
            raise UserTokenError(
                ErrorCode.INVALID_TOKEN, f"Tokens signed with {alg!r} are not accepted."
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise UserTokenError(
                ErrorCode.TOKEN_EXPIRED, "The session has expired: sign in again."
            ) from exc
        except jwt.PyJWTError as exc:
            raise UserTokenError(ErrorCode.INVALID_TOKEN, "The access token is not valid.") from exc
        if claims.get("role") != "authenticated":
            raise UserTokenError(
                ErrorCode.INVALID_TOKEN, "The access token is not a signed-in user's."
            )
        return claims
