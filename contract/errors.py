"""Every error code the cloud API answers with: one enum shared by the cloud and the kiosk.

An error body is `{"error": {"code": ..., "message": ..., "details": ...}}`; `code` is one of
these values, documented in docs/API.md (a test checks that every member is raised somewhere
and documented, and that the docs name no other). Clients match codes by table, never by
substring.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # -- any request ------------------------------------------------------------------------
    VALIDATION_FAILED = "validation_failed"
    INVALID_VALUE = "invalid_value"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    FORBIDDEN = "forbidden"

    # -- bearer tokens (kiosks and users) ----------------------------------------------------
    MISSING_TOKEN = "missing_token"  # noqa: S105 - an error code, not a secret
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    TOKEN_EXPIRED = "token_expired"  # noqa: S105
    AUTH_UNAVAILABLE = "auth_unavailable"

    # -- kiosk identity ------------------------------------------------------------------------
    CODE_MALFORMED = "code_malformed"
    CODE_INVALID = "code_invalid"
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"
    CREDENTIAL_REVOKED = "credential_revoked"

    # -- members -------------------------------------------------------------------------------
    BADGE_MALFORMED = "badge_malformed"
    CURSOR_MALFORMED = "cursor_malformed"
    MEMBER_NOT_FOUND = "member_not_found"

    # -- voice sessions (messages a member can hear) ----------------------------------------
    MEMBER_SUSPENDED = "member_suspended"
    MEMBERSHIP_EXPIRED = "membership_expired"
    MEMBER_SESSION_LIMIT = "member_session_limit"
    DAILY_BUDGET_EXHAUSTED = "daily_budget_exhausted"
    VOICE_NOT_CONFIGURED = "voice_not_configured"
    SESSION_ID_IN_USE = "session_id_in_use"
    OPENAI_KEY_REFUSED = "openai_key_refused"
    OPENAI_RATE_LIMITED = "openai_rate_limited"
    OPENAI_UNREACHABLE = "openai_unreachable"
    OPENAI_UNAVAILABLE = "openai_unavailable"
    OPENAI_REFUSED_SESSION = "openai_refused_session"

    # -- tools -----------------------------------------------------------------------------------
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_MEMBER_MISMATCH = "session_member_mismatch"
    SESSION_ENDED = "session_ended"
    SESSION_EXPIRED = "session_expired"
    UNKNOWN_TOOL = "unknown_tool"

    # -- users -----------------------------------------------------------------------------------
    INVALID_CREDENTIALS = "invalid_credentials"
    USE_SUPABASE_AUTH = "use_supabase_auth"

    # -- dashboard (pages, forms, JSON endpoints) -----------------------------------------------
    CSRF_FAILED = "csrf_failed"
    MFA_CODE_INVALID = "mfa_code_invalid"
    INVITATION_INVALID = "invitation_invalid"
    ACCOUNT_EXISTS = "account_exists"
    ALERT_TRANSITION_INVALID = "alert_transition_invalid"
    IMPORT_INVALID = "import_invalid"
