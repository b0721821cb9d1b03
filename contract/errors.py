"""Every error code the cloud API answers with: one enum shared by the cloud and the kiosk.

An error body is `{"error": {"code": ..., "message": ..., "details": ...}}`; `code` is one of
these values and `HTTP_STATUS` says which status it comes with. Both are documented in
docs/API.md (a test checks that every member is raised somewhere in the cloud and documented
with its status, and that the docs name no other). Clients match codes by table, never by
substring, and treat a code they do not know (a newer cloud) by its HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


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
    BODY_TOO_LARGE = "body_too_large"

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
    STANDBY_LIMIT = "standby_limit"

    # -- tools -----------------------------------------------------------------------------------
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_MEMBER_MISMATCH = "session_member_mismatch"
    SESSION_ENDED = "session_ended"
    SESSION_EXPIRED = "session_expired"
    UNKNOWN_TOOL = "unknown_tool"

    # -- users -----------------------------------------------------------------------------------
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_LOCKED = "account_locked"
    USE_SUPABASE_AUTH = "use_supabase_auth"

    # -- dashboard (pages, forms, JSON endpoints) -----------------------------------------------
    CSRF_FAILED = "csrf_failed"
    MFA_CODE_INVALID = "mfa_code_invalid"
    INVITATION_INVALID = "invitation_invalid"
    ACCOUNT_EXISTS = "account_exists"
    ALERT_TRANSITION_INVALID = "alert_transition_invalid"
    IMPORT_INVALID = "import_invalid"


# The status each code is answered with. `http_error` is the one code without a fixed
# status: it carries whatever the HTTP layer refused with (e.g. 400 for an unreadable body).
HTTP_STATUS: Mapping[ErrorCode, int] = MappingProxyType(
    {
        ErrorCode.VALIDATION_FAILED: 422,
        ErrorCode.INVALID_VALUE: 422,
        ErrorCode.NOT_FOUND: 404,
        ErrorCode.METHOD_NOT_ALLOWED: 405,
        ErrorCode.RATE_LIMITED: 429,
        ErrorCode.INTERNAL_ERROR: 500,
        ErrorCode.FORBIDDEN: 403,
        ErrorCode.BODY_TOO_LARGE: 413,
        ErrorCode.MISSING_TOKEN: 401,
        ErrorCode.INVALID_TOKEN: 401,
        ErrorCode.TOKEN_EXPIRED: 401,
        ErrorCode.AUTH_UNAVAILABLE: 503,
        ErrorCode.CODE_MALFORMED: 422,
        ErrorCode.CODE_INVALID: 404,
        ErrorCode.CODE_EXPIRED: 410,
        ErrorCode.CODE_USED: 409,
        ErrorCode.CREDENTIAL_REVOKED: 401,
        ErrorCode.BADGE_MALFORMED: 422,
        ErrorCode.CURSOR_MALFORMED: 422,
        ErrorCode.MEMBER_NOT_FOUND: 404,
        ErrorCode.MEMBER_SUSPENDED: 403,
        ErrorCode.MEMBERSHIP_EXPIRED: 403,
        ErrorCode.MEMBER_SESSION_LIMIT: 429,
        ErrorCode.DAILY_BUDGET_EXHAUSTED: 403,
        ErrorCode.VOICE_NOT_CONFIGURED: 503,
        ErrorCode.SESSION_ID_IN_USE: 409,
        ErrorCode.OPENAI_KEY_REFUSED: 503,
        ErrorCode.OPENAI_RATE_LIMITED: 503,
        ErrorCode.OPENAI_UNREACHABLE: 503,
        ErrorCode.OPENAI_UNAVAILABLE: 503,
        ErrorCode.OPENAI_REFUSED_SESSION: 502,
        ErrorCode.STANDBY_LIMIT: 429,
        ErrorCode.SESSION_NOT_FOUND: 404,
        ErrorCode.SESSION_MEMBER_MISMATCH: 409,
        ErrorCode.SESSION_ENDED: 409,
        ErrorCode.SESSION_EXPIRED: 409,
        ErrorCode.UNKNOWN_TOOL: 404,
        ErrorCode.INVALID_CREDENTIALS: 401,
        ErrorCode.ACCOUNT_LOCKED: 429,
        ErrorCode.USE_SUPABASE_AUTH: 404,
        ErrorCode.CSRF_FAILED: 403,
        ErrorCode.MFA_CODE_INVALID: 401,
        ErrorCode.INVITATION_INVALID: 404,
        ErrorCode.ACCOUNT_EXISTS: 409,
        ErrorCode.ALERT_TRANSITION_INVALID: 409,
        ErrorCode.IMPORT_INVALID: 422,
    }
)
