"""Everything a request handler needs, built once by `create_app(settings)`."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

import httpx

from cloud_api.auth.keys import load_or_create_secret, load_or_create_signing_key
from cloud_api.auth.kiosk import KioskTokenVerifier
from cloud_api.auth.lockout import LockoutSignIn
from cloud_api.auth.signin import LocalSignIn, SignIn
from cloud_api.auth.totp import SecretSealer
from cloud_api.auth.users import LOCAL_ISSUER, LocalIssuer, UserTokenVerifier
from cloud_api.config import CloudSettings
from cloud_api.data import sign_in_limits
from cloud_api.db.database import Database
from cloud_api.ratelimit import RateLimiter


@dataclass
class Services:
    settings: CloudSettings
    database: Database
    kiosk_token_key: bytes
    kiosk_tokens: KioskTokenVerifier
    code_pepper: bytes
    user_tokens: UserTokenVerifier
    local_issuer: LocalIssuer | None
    rate_limiter: RateLimiter
    http: httpx.AsyncClient
    # How people sign in to the dashboard: the local issuer, Supabase Auth, or None when
    # Supabase is configured without its anon key (the sign-in page says so).
    signin: SignIn | None = None
    csrf_key: bytes = b""


def root_secret(settings: CloudSettings) -> bytes:
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / "token_secret")


def derive(secret: bytes, purpose: str) -> bytes:
    """Independent keys for independent jobs, from one configured secret."""
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def code_pepper(settings: CloudSettings) -> bytes:
    return derive(root_secret(settings), "provisioning-code")


def totp_sealer(settings: CloudSettings) -> SecretSealer:
    """Seals local second factors' secrets (the API and the operator's CLI share it)."""
    return SecretSealer(derive(root_secret(settings), "totp-seal"))


def build_services(settings: CloudSettings, database: Database) -> Services:
    secret = root_secret(settings)
    http = httpx.AsyncClient()
    local_issuer: LocalIssuer | None = None
    if settings.supabase_url:
        base = settings.supabase_url.rstrip("/")
        verifier = UserTokenVerifier(
            issuer=f"{base}/auth/v1",
            jwks_url=f"{base}/auth/v1/.well-known/jwks.json",
            hs256_secret=(
                settings.supabase_jwt_secret.get_secret_value().encode()
                if settings.supabase_jwt_secret
                else None
            ),
            http=http,
        )
    else:
        key = load_or_create_signing_key(settings.data_dir / "auth_signing_key.pem")
        local_issuer = LocalIssuer(key, settings.user_token_ttl_s)
        verifier = UserTokenVerifier(issuer=LOCAL_ISSUER, jwks=local_issuer.jwks())
    signin: SignIn | None = None
    if local_issuer is not None:
        signin = LocalSignIn(
            database,
            local_issuer,
            totp_sealer(settings),
            session_ttl=timedelta(hours=settings.session_ttl_h),
        )
    elif settings.supabase_url and settings.supabase_anon_key:
        from cloud_api.auth.supabase_signin import SupabaseSignIn

        signin = SupabaseSignIn(
            settings.supabase_url, settings.supabase_anon_key.get_secret_value(), http
        )
    if signin is not None:
        signin = LockoutSignIn(
            signin,
            database,
            sign_in_limits.Policy(
                max_failures=settings.signin_max_failures_per_account,
                window=timedelta(minutes=settings.signin_failure_window_min),
                lockout_s=settings.signin_lockout_s,
                lockout_max_s=settings.signin_lockout_max_s,
                trusted=timedelta(days=settings.signin_trusted_source_days),
            ),
        )
    limiter = RateLimiter(
        {
            "api": settings.rate_limit_api_per_min,
            "voice": settings.rate_limit_voice_per_min,
            "admin": settings.rate_limit_admin_per_min,
            "login": settings.rate_limit_login_per_min,
        }
    )
    kiosk_key = derive(secret, "kiosk-token")
    return Services(
        settings=settings,
        database=database,
        kiosk_token_key=kiosk_key,
        kiosk_tokens=KioskTokenVerifier(kiosk_key),
        code_pepper=derive(secret, "provisioning-code"),
        user_tokens=verifier,
        local_issuer=local_issuer,
        rate_limiter=limiter,
        http=http,
        signin=signin,
        csrf_key=derive(secret, "csrf"),
    )
