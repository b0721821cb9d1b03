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

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> CloudSettings:
        if self.environment == "production" and not self.database_url:
            raise ValueError(
                "JARVIS_ENVIRONMENT=production needs DATABASE_URL: the embedded database is "
                "for development and tests only"
            )
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("JARVIS_DB_POOL_MIN must not exceed JARVIS_DB_POOL_MAX")
        return self

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url
