"""Forged, tampered, expired and misplaced tokens: every operation that needs a token refuses
each of them with 401, and nothing in the database changes.

The operations are those of the OpenAPI spec that answer an anonymous call with
`missing_token`, so endpoints added later are covered as they land."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cloud_api.auth.kiosk import AUDIENCE, ISSUER, mint_token
from cloud_api.auth.users import LOCAL_ISSUER
from cloud_api.services import derive, root_secret
from tests.attack.walk import Filler, operations
from tests.attack.world import World, tenant_rows

REFUSALS = {"missing_token", "invalid_token", "token_expired", "credential_revoked"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: str) -> str:
    """Signed by hand: PyJWT itself refuses to sign with what looks like a public key."""
    signing_input = f"{b64(header)}.{b64(claims)}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def tampered(token: str, **changes: Any) -> str:
    """The token with its claims changed and its signature kept."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return f"{head}.{b64({**claims, **changes})}.{signature}"


def forgeries(world: World) -> dict[str, str]:
    """Tokens an attacker can make, each aimed at tenant B with tenant A's footing."""
    a, b = world.a, world.b
    kiosk_claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(b.ids["kiosk"]),
        "role": "authenticated",
        "jarvis_role": "kiosk",
        "cid": str(uuid.uuid4()),
        "exp": int(time.time()) + 300,
    }
    user_claims = {
        "iss": LOCAL_ISSUER,
        "aud": "authenticated",
        "sub": str(b.ids["user"]),
        "role": "authenticated",
        "email": b.ids["email"],
        "exp": int(time.time()) + 300,
    }
    jwks = httpx.get(f"{world.cloud.base_url}/auth/v1/.well-known/jwks.json").json()
    kid = jwks["keys"][0]["kid"]
    attacker_key = ec.generate_private_key(ec.SECP256R1())
    real_kiosk_key = derive(root_secret(world.cloud.settings), "kiosk-token")
    return {
        "alg none, kiosk": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(kiosk_claims)}.",
        "alg none, user": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(user_claims)}.",
        "kiosk, guessed secret": jwt.encode(
            kiosk_claims, "a-guessed-secret-" * 3, algorithm="HS256"
        ),
        "user, HS256 with the public key as secret": hs256(
            {"alg": "HS256", "typ": "JWT", "kid": kid}, user_claims, json.dumps(jwks["keys"][0])
        ),
        "user, attacker's key under the real kid": jwt.encode(
            user_claims, attacker_key, algorithm="ES256", headers={"kid": kid}
        ),
        "user, unknown kid": jwt.encode(
            user_claims, attacker_key, algorithm="ES256", headers={"kid": "nope"}
        ),
        "user, service role": jwt.encode(
            {**user_claims, "role": "service_role"}, attacker_key, algorithm="ES256"
        ),
        "user token, subject swapped": tampered(a.tokens["gym_manager"], sub=str(b.ids["user"])),
        "kiosk token, subject swapped": tampered(a.tokens["kiosk"], sub=str(b.ids["kiosk"])),
        "kiosk token, no expiry": tampered(a.tokens["kiosk"], exp=None),
        "kiosk token, expired": mint_token(b.ids["kiosk"], uuid.uuid4(), real_kiosk_key, -60),
        "kiosk claims in a well-signed token of an unknown credential": mint_token(
            b.ids["kiosk"], uuid.uuid4(), real_kiosk_key, 300
        ),
        "garbage": "abc.def.ghi",
        "very long": "a" * 6000,
    }


@pytest.fixture(scope="module")
def guarded(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) of every operation that needs a token."""
    spec = httpx.get(f"{world.cloud.base_url}/openapi.json").json()
    filler = Filler(spec, world.b, "A1B2C3")
    found = []
    with httpx.Client(base_url=world.cloud.base_url, timeout=30) as client:
        for operation in operations(spec):
            request = filler.request(operation)
            answer = client.request(
                request.method, request.url_path, params=request.params, json=request.body
            )
            if answer.status_code == 401 and answer.json()["error"]["code"] == "missing_token":
                found.append((request.method, request.url_path, request.body))
    assert len(found) >= 12, found
    return found


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc.def.ghi"])
def test_a_malformed_authorization_header_is_refused(
    world: World, guarded: list[tuple[str, str, dict[str, Any]]], header: str
) -> None:
    for method, path, body in guarded:
        answer = httpx.request(
            method, world.cloud.base_url + path, json=body, headers={"Authorization": header}
        )
        assert answer.status_code == 401, (method, path, answer.text)


def test_no_forged_token_is_accepted(
    world: World, guarded: list[tuple[str, str, dict[str, Any]]]
) -> None:
    before = {name: tenant_rows(world.cloud, world.tenant(name)) for name in ("a", "b")}
    accepted = []
    with httpx.Client(base_url=world.cloud.base_url, timeout=30) as client:
        for forgery, token in forgeries(world).items():
            for method, path, body in guarded:
                answer = client.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                code = answer.json().get("error", {}).get("code")
                if answer.status_code != 401 or code not in REFUSALS:
                    accepted.append(f"{forgery}: {method} {path} → {answer.status_code} {code}")
    assert accepted == []
    assert {name: tenant_rows(world.cloud, world.tenant(name)) for name in ("a", "b")} == before
