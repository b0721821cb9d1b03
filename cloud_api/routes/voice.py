"""Starting a voice session: limits, the session configuration, an ephemeral client secret.

Refusals a member hears (unknown member, suspended or expired membership, hourly limit,
daily budget, voice unavailable) carry a `message` in the member's language — French or
English, else the kiosk's — that the kiosk can speak as is; `details.language` says which.

Warm connections (issue 9): a kiosk may keep a Realtime connection open before anyone taps,
opened with a standby secret bound to no member (`POST VOICE_STANDBY`, counted and limited
per kiosk, refused once the gym's budget is spent). At the tap, the voice start is the same
gate as ever — member, limits, budget, recorded start — and when the kiosk says its warm
connection runs the kiosk's model (`warm_model`) no secret is minted: the kiosk binds the
member on that connection with the session returned here. The organisation key stays here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from openai import AsyncOpenAI

from cloud_api.config import CloudSettings
from cloud_api.data import voice as store
from cloud_api.db.database import Conn
from cloud_api.deps import KioskVoice, ServicesDep, kiosk_revoked
from cloud_api.errors import ApiError, error_responses
from cloud_api.tools.hours import text_language
from cloud_api.voice.client_secret import (
    MintError,
    mint_client_secret,
    openai_for,
    openai_lifespan,
)
from cloud_api.voice.instructions import build_instructions, spoken_date
from cloud_api.voice.session_config import realtime_url, session_payload, standby_payload
from cloud_api.voice.spoken import say
from contract import kiosk_api as api
from contract.errors import ErrorCode

router = APIRouter(tags=["voice"], lifespan=openai_lifespan)


def refusal(
    code: ErrorCode,
    language: str,
    *,
    sentence: str | None = None,
    retry_after_s: int | None = None,
    reason: str | None = None,
    **values: Any,
) -> ApiError:
    """An error whose message the kiosk can say to the member."""
    lang = text_language(language)
    details: dict[str, Any] = {"language": lang}
    if reason is not None:
        details["reason"] = reason
    headers = None
    if retry_after_s is not None:
        details["retry_after_s"] = retry_after_s
        headers = {"Retry-After": str(retry_after_s)}
    return ApiError(code, say(lang, sentence or code, **values), headers=headers, details=details)


async def _place(conn: Conn) -> store.Place:
    """The calling kiosk's gym and voice settings (a revoked kiosk is refused)."""
    place = await store.load_place(conn)
    if place is None:
        raise kiosk_revoked()
    return place


def _openai(request: Request, settings: CloudSettings, language: str) -> tuple[AsyncOpenAI, str]:
    """The cloud's OpenAI client and organisation key, or the refusal a member hears."""
    client = openai_for(request)
    if client is None or settings.openai_api_key is None:
        raise refusal(ErrorCode.VOICE_NOT_CONFIGURED, language, sentence="voice_unavailable")
    return client, settings.openai_api_key.get_secret_value()


async def _within_budget(
    conn: Conn, settings: CloudSettings, place: store.Place, language: str
) -> Decimal:
    """The gym's spend today, under its daily budget (else a refusal until its midnight)."""
    spent = await store.gym_spend_today(conn)
    if spent >= settings.voice_daily_budget_usd:
        raise refusal(
            ErrorCode.DAILY_BUDGET_EXHAUSTED, language, retry_after_s=place.seconds_to_midnight
        )
    return spent


@router.post(
    api.VOICE_START,
    response_model=api.VoiceStartResponse,
    responses=error_responses(401, 403, 404, 409, 422, 429, 502, 503),
    summary="Start a voice session for a member: session config and an ephemeral key",
)
async def start_voice_session(
    body: api.VoiceStartRequest, kiosk: KioskVoice, services: ServicesDep, request: Request
) -> api.VoiceStartResponse:
    settings = services.settings
    async with services.database.transaction(kiosk.claims) as conn:
        place = await _place(conn)
        member = await store.load_member(conn, body.member_id, place.language)
        if member is None:
            raise refusal(ErrorCode.MEMBER_NOT_FOUND, place.language)
        language = member.facts.language
        client, key = _openai(request, settings, language)
        if not member.is_active:
            raise refusal(ErrorCode.MEMBER_SUSPENDED, language)
        if member.expired:
            assert member.expires_on is not None
            raise refusal(
                ErrorCode.MEMBERSHIP_EXPIRED,
                language,
                expired_on=spoken_date(member.expires_on, language),
            )
        await store.lock_member(conn, member.id)
        earlier = await store.find_start(conn, body.session_id)
        if earlier is not None and (
            earlier["kiosk_id"] != place.kiosk_id or earlier["member_id"] != member.id
        ):
            raise ApiError(
                ErrorCode.SESSION_ID_IN_USE,
                "This session id is already used by another session: make a new one.",
            )
        started, wait_s = await store.recent_starts(conn, member.id, body.session_id)
        limit = settings.voice_sessions_per_member_per_hour
        if started >= limit:
            raise refusal(
                ErrorCode.MEMBER_SESSION_LIMIT,
                language,
                retry_after_s=wait_s,
                count=started,
                minutes=max(1, -(-wait_s // 60)),
            )
        spent = await _within_budget(conn, settings, place, language)
        memory = await store.member_memory(
            conn, member.id, settings.voice_memory_conversations, place.gym.timezone
        )
        if not await store.record_start(
            conn,
            session_id=body.session_id,
            member_id=member.id,
            model=place.model,
            voice=place.voice,
            language=language,
        ):
            raise ApiError(
                ErrorCode.SESSION_ID_IN_USE,
                "This session id is already used by another session: make a new one.",
            )

        session = session_payload(
            instructions=build_instructions(member.facts, place.gym, memory),
            voice=place.voice,
            language=language,
            settings=settings,
        )
        details: dict[str, Any] = {
            "member_id": member.id,
            "model": place.model,
            "voice": place.voice,
            "language": language,
            "memory_conversations": len(memory),
            "spent_today_usd": spent,
        }
        url = realtime_url(settings.openai_base_url, place.model)
        if body.warm_model == place.model:
            # The kiosk's warm connection carries on: nothing to mint.
            await store.mark_started(conn, body.session_id, None, {**details, "warm": True})
            return api.VoiceStartResponse(
                client_secret=None,
                expires_at=None,
                model=place.model,
                realtime_url=url,
                session=session,
            )

    try:
        minted = await mint_client_secret(
            client,
            key,
            session=session,
            model=place.model,
            ttl_s=settings.voice_client_secret_ttl_s,
        )
    except MintError as exc:
        async with services.database.transaction(kiosk.claims) as conn:
            await store.mark_failed(conn, body.session_id, f"{exc.code}: {exc.reason}"[:1000])
        error = refusal(
            exc.code,
            language,
            sentence="voice_unavailable",
            retry_after_s=exc.retry_after_s,
            reason=exc.reason,
        )
        raise error from None
    async with services.database.transaction(kiosk.claims) as conn:
        await store.mark_started(
            conn,
            body.session_id,
            minted.expires_at,
            {**details, "secret_expires_at": minted.expires_at},
        )
    return api.VoiceStartResponse(
        client_secret=minted.value,
        expires_at=minted.expires_at,
        model=place.model,
        realtime_url=url,
        session=session,
    )


@router.post(
    api.VOICE_STANDBY,
    response_model=api.VoiceStandbyResponse,
    responses=error_responses(401, 403, 429, 502, 503),
    summary="A client secret bound to no member, for the kiosk's warm Realtime connection",
)
async def standby_secret(
    kiosk: KioskVoice, services: ServicesDep, request: Request
) -> api.VoiceStandbyResponse:
    settings = services.settings
    async with services.database.transaction(kiosk.claims) as conn:
        place = await _place(conn)
        client, key = _openai(request, settings, place.language)
        await _within_budget(conn, settings, place, place.language)
        got, wait_s = await store.recent_standbys(conn)
        if got >= settings.voice_standbys_per_kiosk_per_hour:
            raise ApiError(
                ErrorCode.STANDBY_LIMIT,
                f"This kiosk got {got} standby keys in the last hour, its limit: it keeps "
                f"starting sessions the ordinary way for {wait_s} s.",
                headers={"Retry-After": str(wait_s)},
                details={"retry_after_s": wait_s},
            )
    session = standby_payload(voice=place.voice)
    try:
        minted = await mint_client_secret(
            client,
            key,
            session=session,
            model=place.model,
            ttl_s=settings.voice_standby_ttl_s,
        )
    except MintError as exc:
        raise refusal(
            exc.code,
            place.language,
            sentence="voice_unavailable",
            retry_after_s=exc.retry_after_s,
            reason=exc.reason,
        ) from None
    async with services.database.transaction(kiosk.claims) as conn:
        await store.record_standby(conn, place.model, minted.expires_at)
    return api.VoiceStandbyResponse(
        client_secret=minted.value,
        expires_at=minted.expires_at,
        model=place.model,
        realtime_url=realtime_url(settings.openai_base_url, place.model),
        session=session,
    )
