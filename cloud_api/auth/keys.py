"""Server secrets kept on disk for the embedded default: created once, mode 0600."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """A random secret stored in `path` (0600); the same bytes on every later call."""
    if not path.exists():
        # Another process may create it first: then read theirs.
        with contextlib.suppress(FileExistsError):
            _write_private(path, secrets.token_hex(nbytes).encode())
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_bytes().strip()


def load_or_create_signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The local issuer's ES256 (P-256) key, stored as PEM in `path` (0600)."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):
            _write_private(path, pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return loaded
