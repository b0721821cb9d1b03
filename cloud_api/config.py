"""Cloud settings: one frozen pydantic-settings object, built once by the CLI or the tests."""

from __future__ import annotations

from decimal import Decimal
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
    claim_window_min: int = Field(
        default=15, ge=1, description="Sliding window for claim limits (min)."
    )
    claim_max_failures_per_code: int = Field(
        default=5, ge=1, description="Failures per code, and near misses that retire a live code."
    )
    claim_max_failures_per_source: int = Field(default=10, ge=1)
    claim_max_failures_global: int = Field(
        default=100,
        ge=2,
        description="Failures from everyone past which sources that have failed are refused "
        "(sources with a clean record still claim). Above the per-source limit.",
    )
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

    # -- dashboard -----------------------------------------------------------------------
    supabase_anon_key: SecretStr | None = Field(
        default=None,
        description="The Supabase project's anon (publishable) key: the dashboard signs people "
        "in through Supabase Auth with it. Needed with JARVIS_SUPABASE_URL.",
    )
    supabase_service_role_key: SecretStr | None = Field(
        default=None,
        description="The Supabase project's service_role key, used only to send invitations "
        "(Supabase Auth admin API). Never leaves the cloud.",
    )
    session_ttl_h: float = Field(
        default=12,
        gt=0,
        le=24 * 30,
        description="A dashboard sign-in lasts this long after its last use (h); local issuer.",
    )
    invitation_ttl_h: float = Field(
        default=72, gt=0, le=24 * 30, description="How long an invitation link works (h)."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the dashboard's cookies Secure. Unset: when the request came over "
        "https (X-Forwarded-Proto from a trusted proxy counts) and always in production.",
    )
    import_max_mb: int = Field(
        default=50, ge=1, le=1024, description="Largest member CSV the dashboard accepts (MiB)."
    )

    # -- limits --------------------------------------------------------------------------
    rate_limit_api_per_min: int = Field(default=100, ge=1, description="Kiosk/API calls per min.")
    rate_limit_voice_per_min: int = Field(default=30, ge=1, description="Voice/tool calls per min.")
    rate_limit_admin_per_min: int = Field(default=200, ge=1, description="Dashboard calls per min.")
    rate_limit_login_per_min: int = Field(
        default=10, ge=1, description="Sign-in attempts per minute and address."
    )
    signin_max_failures_per_account: int = Field(
        default=10,
        ge=1,
        description="Failed sign-ins per account (any address) before it refuses passwords.",
    )
    signin_failure_window_min: int = Field(
        default=15, ge=1, description="Window in which an account's failures count (min)."
    )
    signin_lockout_s: int = Field(
        default=60, ge=1, description="First lockout of an account (s); doubles each time."
    )
    signin_lockout_max_s: int = Field(
        default=900, ge=1, description="Longest lockout of an account (s)."
    )
    signin_trusted_source_days: int = Field(
        default=30,
        ge=0,
        description="An address with a successful sign-in to an account within this many days "
        "is not held by that account's lockout (0: none is).",
    )
    rate_limit_sweep_s: float = Field(
        default=300,
        gt=0,
        description="How often (seconds) each API process forgets ended rate-limit windows.",
    )

    # -- voice and tools -----------------------------------------------------------------
    voice_sessions_per_member_per_hour: int = Field(
        default=6,
        ge=1,
        le=1000,
        description="Voice sessions one member may start in any rolling hour (sessions).",
    )
    voice_daily_budget_usd: Decimal = Field(
        default=Decimal("25"),
        ge=0,
        max_digits=10,
        decimal_places=2,
        description=(
            "Realtime spend per gym and local day (sum of stored sessions' cost) past which "
            "new voice sessions are refused until midnight in the gym's timezone (USD). "
            "0 refuses every session."
        ),
    )
    voice_client_secret_ttl_s: int = Field(
        default=600,
        ge=10,
        le=7200,
        description="Life of the ephemeral Realtime key minted per session (s); "
        "a session opened with it may outlive it.",
    )
    voice_standby_ttl_s: int = Field(
        default=1800,
        ge=60,
        le=7200,
        description="Life of a standby Realtime key (a kiosk's warm connection, bound to no "
        "member until a tap) (s); kiosks refresh the connection before it runs out.",
    )
    voice_standbys_per_kiosk_per_hour: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="Standby keys one kiosk may get in any rolling hour (keys); a warm "
        "connection is used by one session, then replaced.",
    )
    voice_memory_conversations: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Past conversation summaries recalled in a session's instructions "
        "(conversations).",
    )
    voice_transcription_model: str = Field(
        default="gpt-4o-mini-transcribe",
        min_length=1,
        description="Model transcribing the member's speech during a session (OpenAI name).",
    )
    voice_vad_threshold: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="server_vad activation threshold, 0–1 (unitless); above OpenAI's 0.5 "
        "because gyms are loud.",
    )
    voice_vad_prefix_padding_ms: int = Field(
        default=300, ge=0, le=2000, description="Audio kept before detected speech (ms)."
    )
    voice_vad_silence_duration_ms: int = Field(
        default=650,
        ge=200,
        le=3000,
        description="Silence that ends the member's turn (ms).",
    )
    voice_openai_timeout_s: float = Field(
        default=10,
        gt=0,
        le=60,
        description="Timeout of each call to OpenAI (client secret, embeddings) (s).",
    )
    tool_timeout_s: float = Field(
        default=5,
        gt=0,
        le=60,
        description="Longest a JARVIS tool may run before it answers an error the "
        "assistant can say (s).",
    )
    tool_session_max_age_min: int = Field(
        default=120,
        ge=1,
        le=24 * 60,
        description="Tools run for a voice session up to this long after it started (min).",
    )
    knowledge_embedding_model: str = Field(
        default="text-embedding-3-small",
        min_length=1,
        description="OpenAI model embedding knowledge documents when OPENAI_API_KEY is "
        "set (1536 dimensions); without a key a local embedding is used.",
    )

    # -- pipeline and jobs (docs/PIPELINE.md) ---------------------------------------------
    worker_database_url: str | None = Field(
        default=None,
        description=(
            "Connection for the worker's login role `jarvis_worker` (job queue and the "
            "pipeline's definer functions). Unset: derived from DATABASE_URL with the user "
            "replaced by `jarvis_worker` and JARVIS_WORKER_DB_PASSWORD."
        ),
    )
    worker_db_password: SecretStr | None = Field(
        default=None, description="Password of the `jarvis_worker` role when it has one."
    )
    worker_concurrency: int = Field(
        default=4, ge=1, le=64, description="Jobs one worker process runs at once (jobs)."
    )
    worker_stalled_after_s: int = Field(
        default=30,
        ge=2,
        le=3600,
        description="A worker silent this long is dead: its running jobs are queued again (s).",
    )
    analysis_backend: Literal["auto", "local", "openai"] = Field(
        default="auto",
        description="Who analyses sessions: `openai` (needs OPENAI_API_KEY), `local` (lexicon "
        "sentiment and keywords, no network), `auto` = openai when a key is set.",
    )
    analysis_model: str = Field(
        default="gpt-4o-mini", min_length=1, description="OpenAI model analysing sessions."
    )
    analysis_embedding_model: str = Field(
        default="text-embedding-3-small",
        min_length=1,
        description="OpenAI model embedding session summaries (1536 dimensions).",
    )
    analysis_max_output_tokens: int = Field(
        default=700, ge=100, le=4000, description="Token cap of one analysis answer (tokens)."
    )
    analysis_max_transcript_chars: int = Field(
        default=12000,
        ge=500,
        le=200000,
        description="Longest transcript sent for analysis; the rest is cut (characters).",
    )
    analysis_timeout_s: float = Field(
        default=30, gt=0, le=300, description="Timeout of one OpenAI analysis call (s)."
    )
    analysis_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Attempts per session analysis before it is failed."
    )
    kiosk_offline_after_min: int = Field(
        default=10, ge=1, description="Silence after which a kiosk is marked offline (min)."
    )
    kiosk_alert_after_min: int = Field(
        default=30, ge=1, description="Silence after which the gym gets an offline alert (min)."
    )
    gym_monthly_budget_usd: Decimal = Field(
        default=Decimal("300"),
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="Spend per gym and calendar month (Realtime + analysis) past which the gym "
        "gets a budget alert (USD); 0 turns the alert off.",
    )
    retention_heartbeat_days: int = Field(
        default=30, ge=1, description="Kiosk heartbeats are deleted after (days)."
    )
    retention_transcript_days: int = Field(
        default=180,
        ge=1,
        description="Conversation transcripts (turns) are deleted after (days); summaries stay.",
    )
    retention_session_archive_days: int = Field(
        default=183, ge=1, description="Sessions are archived after (days)."
    )
    retention_report_archive_days: int = Field(
        default=365, ge=1, description="Insights reports are archived after (days)."
    )

    # -- delivery ------------------------------------------------------------------------
    smtp_host: str | None = Field(
        default=None, description="SMTP server for alert emails. Unset: emails are not sent."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP user, if it needs one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the SMTP connection with STARTTLS (port 587)."
    )
    smtp_from: str = Field(
        default="JARVIS <alerts@jarvis.local>", description="Sender of alert emails."
    )
    delivery_timeout_s: float = Field(
        default=10, gt=0, le=120, description="Timeout of one email or webhook delivery (s)."
    )
    dashboard_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL of the dashboard, for links in emails and webhooks.",
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
        if self.claim_max_failures_global <= self.claim_max_failures_per_source:
            raise ValueError(
                "JARVIS_CLAIM_MAX_FAILURES_GLOBAL must exceed "
                "JARVIS_CLAIM_MAX_FAILURES_PER_SOURCE: one source must not open the global "
                "circuit alone"
            )
        if self.signin_lockout_s > self.signin_lockout_max_s:
            raise ValueError("JARVIS_SIGNIN_LOCKOUT_S must not exceed JARVIS_SIGNIN_LOCKOUT_MAX_S")
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("JARVIS_DB_POOL_MIN must not exceed JARVIS_DB_POOL_MAX")
        return self

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url
