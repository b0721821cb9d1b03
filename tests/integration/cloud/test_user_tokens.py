"""Dashboard tokens: Supabase-style JWKS (with key rotation), legacy HS256, the local issuer."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cloud_api.auth.users import AUDIENCE, UserTokenError, UserTokenVerifier
from tests.cloud_server import CloudServer

ISSUER = "http://127.0.0.1/auth/v1"


class Jwks:
    """A real JWKS endpoint on 127.0.0.1 whose keys the test can rotate."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(
                    {
                        "keys": [
                            {
                                **json.loads(
                                    jwt.algorithms.get_default_algorithms()[alg].to_jwk(
                                        key.public_key()
                                    )
                                ),
                                "kid": kid,
                                "alg": alg,
                                "use": "sig",
                            }
                            for kid, (alg, key) in outer.keys.items()
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, kid: str, alg: str) -> Any:
        key = (
            ec.generate_private_key(ec.SECP256R1())
            if alg == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.keys[kid] = (alg, key)
        return key


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    endpoint = Jwks()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def token(key: Any, alg: str, kid: str | None = None, **overrides: Any) -> str:
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "authenticated",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "aal": "aal1",
        "exp": int(time.time()) + 300,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None)


def verify(verifier: UserTokenVerifier, value: str) -> dict[str, Any]:
    return asyncio.run(verifier.verify(value))


def make_verifier(jwks: Jwks, http: httpx.AsyncClient, **kwargs: Any) -> UserTokenVerifier:
    return UserTokenVerifier(issuer=ISSUER, jwks_url=jwks.url, http=http, min_refresh_s=0, **kwargs)


def test_es256_and_rs256_from_jwks_with_rotation(jwks: Jwks) -> None:
    es = jwks.add("k1", "ES256")

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            verifier = make_verifier(jwks, http)
            claims = await verifier.verify(token(es, "ES256", "k1"))
            assert claims["aal"] == "aal1"
            await verifier.verify(token(es, "ES256", "k1"))
            assert jwks.fetches == 1  # cached
            rs = jwks.add("k2", "RS256")  # the project rotates in a new key
            await verifier.verify(token(rs, "RS256", "k2"))
            assert jwks.fetches == 2  # refetched once for the unknown key id

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"exp": int(time.time()) - 10}, "token_expired"),
        ({"aud": "anon"}, "invalid_token"),
        ({"iss": "https://evil.example/auth/v1"}, "invalid_token"),
        ({"role": "service_role"}, "invalid_token"),
    ],
)
def test_claims_are_checked(jwks: Jwks, change: dict[str, Any], code: str) -> None:
    es = jwks.add("k1", "ES256")

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            with pytest.raises(UserTokenError) as caught:
                await make_verifier(jwks, http).verify(token(es, "ES256", "k1", **change))
            assert caught.value.code == code

    asyncio.run(scenario())


def test_forgeries_are_refused(jwks: Jwks) -> None:
    jwks.add("k1", "ES256")
    stranger = ec.generate_private_key(ec.SECP256R1())
    unsigned = jwt.encode(
        {
            "sub": "x",
            "role": "authenticated",
            "aud": AUDIENCE,
            "iss": ISSUER,
            "exp": int(time.time()) + 60,
        },
        None,
        algorithm="none",
    )

    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            verifier = make_verifier(jwks, http)
            for bad in (
                token(stranger, "ES256", "k1"),  # right kid, wrong key
                token(stranger, "ES256", "nope"),  # unknown kid
                unsigned,  # alg: none
                token("a-guess-that-is-long-enough-for-hs256", "HS256"),
            ):  # HS256 without a configured secret
                with pytest.raises(UserTokenError):
                    await verifier.verify(bad)

    asyncio.run(scenario())


def test_legacy_hs256_secret(jwks: Jwks) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as http:
            verifier = make_verifier(jwks, http, hs256_secret=b"legacy-project-secret-0123456789")
            claims = await verifier.verify(token("legacy-project-secret-0123456789", "HS256"))
            assert claims["role"] == "authenticated"
            with pytest.raises(UserTokenError):
                await verifier.verify(token("another-secret-0123456789abcdefgh", "HS256"))

    asyncio.run(scenario())


def test_local_sign_in(cloud: CloudServer) -> None:
    cloud.add_user("owner@example.com", "franchise_owner", franchise_slug="franchise-ab")
    good = httpx.post(
        f"{cloud.base_url}/auth/login",
        json={"email": "OWNER@example.com", "password": "correct horse"},
    )
    assert good.status_code == 200
    claims = jwt.decode(good.json()["access_token"], options={"verify_signature": False})
    assert (claims["role"], claims["aud"], claims["aal"]) == (
        "authenticated",
        "authenticated",
        "aal1",
    )
    keys = httpx.get(f"{cloud.base_url}/auth/v1/.well-known/jwks.json").json()["keys"]
    assert keys[0]["alg"] == "ES256"
    assert "d" not in keys[0]  # only the public half is published
    wrong = httpx.post(
        f"{cloud.base_url}/auth/login",
        json={"email": "owner@example.com", "password": "Tr0ub4dor&3"},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    nobody = httpx.post(
        f"{cloud.base_url}/auth/login", json={"email": "nobody@example.com", "password": "x"}
    )
    assert nobody.status_code == 401
    actions = [
        r["action"]
        for r in cloud.sql(
            "select action from audit_log where details->>'email' ilike 'owner@example.com' order by id"
        )
    ]
    assert actions == ["user.signed_in", "user.sign_in_failed"]
    cloud.sql("update users set is_active = false where email = 'owner@example.com'")
    assert (
        httpx.post(
            f"{cloud.base_url}/auth/login",
            json={"email": "owner@example.com", "password": "correct horse"},
        ).status_code
        == 401
    )
