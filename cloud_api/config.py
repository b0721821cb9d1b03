"""Cloud settings: one frozen pydantic-settings object, built once by the CLI or the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    """Everything the cloud service reads from its environment (see `.env.example`)."""

    model_config = SettingsConfigDict(
        env_prefix="JARVIS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="`production` refuses development defaults (embedded database, no secrets).",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "JARVIS_DATABASE_URL"),
        description="Admin connection (migrations, CLI). Unset: start the embedded Postgres.",
    )
    api_database_url: str | None = Field(
        default=None,
        description=(
            "Connection for the API's NOINHERIT login role `jarvis_api`. Unset: derived from "
            "DATABASE_URL with the user replaced by `jarvis_api` and JARVIS_API_DB_PASSWORD."
        ),
    )
    api_db_password: SecretStr | None = Field(
        default=None, description="Password of the `jarvis_api` role when it has one."
    )
    data_dir: Path = Field(
        default=Path(".jarvis"),
        description="Folder for the embedded database and cloud state.",
    )
    host: str = Field(default="127.0.0.1", description="Address `jarvis-cloud serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `jarvis-cloud serve` binds.")
    db_pool_min: int = Field(default=2, ge=1, description="Connections kept open by the API pool.")
    db_pool_max: int = Field(default=10, ge=1, description="Most connections the API pool opens.")
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "JARVIS_OPENAI_API_KEY"),
        description="The organisation's OpenAI key. Stays in the cloud; kiosks never see it.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "JARVIS_OPENAI_BASE_URL"),
        description="OpenAI API base URL; point it at `jarvis-cloud simulator` in tests and demo.",
    )

    # -- identities ----------------------------------------------------------------------
    token_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs kiosk tokens and keys provisioning-code hashes (32+ random bytes). Unset in "
            "development: generated once into <data_dir>/token_secret (mode 0600)."
        ),
    )
    kiosk_token_ttl_s: int = Field(default=300, ge=30, le=3600, description="Kiosk token life (s).")
    provisioning_code_ttl_min: int = Field(
        default=30, ge=1, le=7 * 24 * 60, description="How long a provisioning code is valid (min)."
    )
    credential_overlap_h: float = Field(
        default=24, gt=0, le=24 * 30, description="Old credential validity after a rotation (h)."
    )
    claim_window_min: int = Field(default=15, ge=1, description="Window for claim limits (min).")
    claim_max_failures_per_code: int = Field(default=5, ge=1)
    claim_max_failures_per_source: int = Field(default=10, ge=1)
    claim_max_failures_global: int = Field(default=100, ge=1)
    supabase_url: str | None = Field(
        default=None,
        description=(
            "Supabase project URL: dashboard tokens are verified with its JWKS and issuer. "
            "Unset: the cloud's own local issuer (embedded default)."
        ),
    )
    supabase_jwt_secret: SecretStr | None = Field(
        default=None, description="Legacy HS256 JWT secret of the Supabase project, if used."
    )
    user_token_ttl_s: int = Field(default=3600, ge=60, description="Local issuer token life (s).")

    # -- limits --------------------------------------------------------------------------
    rate_limit_api_per_min: int = Field(default=100, ge=1, description="Kiosk/API calls per min.")
    rate_limit_voice_per_min: int = Field(default=30, ge=1, description="Voice/tool calls per min.")
    rate_limit_admin_per_min: int = Field(default=200, ge=1, description="Dashboard calls per min.")
    rate_limit_login_per_min: int = Field(
        default=10, ge=1, description="Sign-in attempts per minute and address."
    )

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> CloudSettings:
        if self.environment == "production" and not self.database_url:
            raise ValueError(
                "JARVIS_ENVIRONMENT=production needs DATABASE_URL: the embedded database is "
                "for development and tests only"
            )
        if self.environment == "production" and self.token_secret is None:
            raise ValueError("JARVIS_ENVIRONMENT=production needs JARVIS_TOKEN_SECRET")
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("JARVIS_DB_POOL_MIN must not exceed JARVIS_DB_POOL_MAX")
        return self

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url
