"""TOTP second factors for the local issuer (RFC 6238 through pyotp), sealed at rest.

A factor's secret is sealed with AES-GCM under a key derived from the cloud's root secret
before it reaches Postgres, so a database dump alone does not give second factors away.
A code is accepted for the current 30-second step or the one either side (clock drift),
and each step once: the caller records the step it returns and refuses it next time.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ISSUER_NAME = "JARVIS"
STEP_S = 30
DRIFT_STEPS = 1


@dataclass(frozen=True)
class Enrollment:
    factor_id: str
    secret: str  # base32, for typing into an authenticator app
    uri: str  # otpauth://totp/...: what the QR code holds


class SealError(ValueError):
    """A sealed secret that this key did not seal (another cloud's key, or tampering)."""


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the sealing key is 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), b"jarvis-totp")
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, sealed: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            return self._aead.decrypt(raw[:12], raw[12:], b"jarvis-totp").decode()
        except (InvalidTag, ValueError) as exc:
            raise SealError("this second factor was sealed with another key") from exc


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER_NAME)


def current_code(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def accepted_step(
    secret: str, code: str, *, after_step: int, at: float | None = None
) -> int | None:
    """The time step `code` belongs to (current ± drift), if it is later than `after_step`."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now_step = int((at if at is not None else time.time()) // STEP_S)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if step > after_step and pyotp.utils.strings_equal(digits, totp.generate_otp(step)):
            return step
    return None
