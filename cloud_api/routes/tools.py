"""Running JARVIS's tools for a kiosk, inside the kiosk's own transaction.

Two kinds of failure, on purpose:
- the call itself is wrong — unknown tool, a member or session that is not this kiosk's
  (row-level security makes another gym's ids read as absent) — a 4xx for the kiosk;
- the tool cannot do what was asked — invalid arguments, a full class, a booking that is
  not the member's, a timeout — `200 {"ok": false, "error": "<sentence>"}`, which the kiosk
  hands to the model as the function's output so that JARVIS can say it. The tool's
  database changes are rolled back.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from fastapi import APIRouter, Request
from pydantic import ValidationError

from cloud_api.data import voice as store
from cloud_api.db.database import Conn
from cloud_api.deps import KioskVoice, ServicesDep, kiosk_revoked
from cloud_api.errors import ApiError, error_responses
from cloud_api.tools.context import Caller, ToolContext, ToolFailure, ToolOutcome
from cloud_api.tools.hours import text_language
from cloud_api.tools.registry import TOOLS
from cloud_api.voice.client_secret import openai_for, openai_lifespan
from cloud_api.voice.spoken import say
from contract import kiosk_api as api
from contract.errors import ErrorCode

log = logging.getLogger("jarvis.cloud.tools")
router = APIRouter(tags=["tools"], lifespan=openai_lifespan)


def _invalid(exc: ValidationError, language: str) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "arguments"
    return say(language, "invalid_arguments", field=field, problem=error["msg"])


async def _check_session(
    conn: Conn, body: api.ToolCallRequest, place: store.Place, max_age_min: int
) -> None:
    start = await store.find_start(conn, body.session_id)
    if start is None or start["kiosk_id"] != place.kiosk_id or start["status"] != "started":
        raise ApiError(
            ErrorCode.SESSION_NOT_FOUND,
            "No voice session with this id was started on this kiosk: start one with "
            f"POST {api.VOICE_START} first.",
        )
    if start["member_id"] != body.member_id:
        raise ApiError(
            ErrorCode.SESSION_MEMBER_MISMATCH, "This voice session belongs to another member."
        )
    if start["ended"]:
        raise ApiError(ErrorCode.SESSION_ENDED, "This voice session has ended: start a new one.")
    if await store.started_longer_ago_than(conn, start["requested_at"], max_age_min):
        raise ApiError(
            ErrorCode.SESSION_EXPIRED,
            f"This voice session started more than {max_age_min} minutes ago: start a new one.",
        )


@router.post(
    api.TOOL_CALL,
    response_model=api.ToolCallResponse,
    responses=error_responses(401, 404, 409, 422, 429),
    summary="Run one of JARVIS's tools for the member of a live voice session",
)
async def call_tool(
    name: str,
    body: api.ToolCallRequest,
    kiosk: KioskVoice,
    services: ServicesDep,
    request: Request,
) -> api.ToolCallResponse:
    tool = TOOLS.get(name)
    if tool is None:
        raise ApiError(
            ErrorCode.UNKNOWN_TOOL,
            f"There is no tool called {name[:64]!r}. Tools: {', '.join(sorted(TOOLS))}.",
        )
    settings = services.settings
    client = openai_for(request)
    language = "en"
    outcome: ToolOutcome
    try:
        async with (
            asyncio.timeout(settings.tool_timeout_s),
            services.database.transaction(
                kiosk.claims, statement_timeout_ms=int(settings.tool_timeout_s * 1000)
            ) as conn,
        ):
            place = await store.load_place(conn)
            if place is None:
                raise kiosk_revoked()
            language = text_language(place.language)
            member = await store.load_member(conn, body.member_id, place.language)
            if member is None:
                raise ApiError(
                    ErrorCode.MEMBER_NOT_FOUND, "This member is not one of this kiosk's gym."
                )
            language = text_language(member.facts.language)
            await _check_session(conn, body, place, settings.tool_session_max_age_min)
            try:
                arguments = tool.arguments.model_validate(body.arguments)
            except ValidationError as exc:
                return api.ToolCallResponse(ok=False, error=_invalid(exc, language))
            caller = Caller(
                kiosk_id=place.kiosk_id,
                kiosk_language=place.language,
                gym=place.gym,
                member_id=member.id,
                first_name=member.first_name,
                member_language=member.language,
                session_id=body.session_id,
            )
            context = ToolContext(conn, caller, settings, client)
            try:
                async with conn.transaction():  # a savepoint: a failing tool changes nothing
                    outcome = await tool.run(context, arguments)
            except ToolFailure as failure:
                return api.ToolCallResponse(ok=False, error=failure.message)
    except (TimeoutError, psycopg.errors.QueryCanceled):
        log.warning("tool %s timed out after %s s", name, settings.tool_timeout_s)
        return api.ToolCallResponse(ok=False, error=say(language, "tool_timeout"))
    return api.ToolCallResponse(ok=True, output=outcome.output, end_session=outcome.end_session)
