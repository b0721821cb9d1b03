"""Voice sessions as the state machine asks for them: the cloud's voice start, then one
conversation at a time, ended politely on request and always reported back.

Whatever happens (the conversation fails to start, breaks, overruns its goodbye, or this
code hits a bug), exactly one ``ConversationEnded`` goes back to the machine for a started
conversation, so its session record is always written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from uuid import UUID

from contract.kiosk_api import EndReason, MemberCard, VoiceStartRequest, VoiceStartResponse
from kiosk_agent.adapters.cloud import CloudClient
from kiosk_agent.adapters.cloud_errors import CloudError, CredentialRejected
from kiosk_agent.core.conversation import (
    Conversation,
    ConversationFactory,
    ConversationFinished,
    ConversationProgress,
    SessionFacts,
    WarmConnectionLost,
)
from kiosk_agent.core.machine import (
    ConversationEnded,
    Input,
    Moment,
    VoiceStarted,
    VoiceStartFailed,
)
from kiosk_agent.services.hooks import AgentHooks, is_outage
from kiosk_agent.tasks import stop_tasks

logger = logging.getLogger(__name__)


class SessionRunner:
    def __init__(
        self,
        client: CloudClient,
        factory: ConversationFactory,
        hooks: AgentHooks,
        *,
        feed: Callable[[Input], None],
        now: Callable[[], Moment],
        voice_start_timeout_s: float,
        end_grace_s: float,
        progress: Callable[[ConversationProgress], None] | None = None,
    ) -> None:
        """``progress``: told every ConversationProgress (the screen)."""
        self._client = client
        self._progress = progress
        self._factory = factory
        self._hooks = hooks
        self._feed = feed
        self._now = now
        self._voice_start_timeout_s = voice_start_timeout_s
        self._end_grace_s = end_grace_s
        self._end_requests: dict[UUID, asyncio.Future[EndReason]] = {}

    async def start_voice(self, session_id: UUID, member: MemberCard) -> None:
        """Ask the cloud for a voice session (on the warm connection when one is ready);
        always answers the machine."""
        assert member.member_id is not None
        warm_model = getattr(self._factory, "warm_model", None)
        request = VoiceStartRequest(
            session_id=session_id,
            member_id=member.member_id,
            warm_model=warm_model() if warm_model is not None else None,
        )
        try:
            async with asyncio.timeout(self._voice_start_timeout_s + 1):
                start = await self._client.voice_start(
                    request, timeout_s=self._voice_start_timeout_s
                )
        except TimeoutError:
            message = (
                f"the cloud did not start the session within {self._voice_start_timeout_s:g} s"
            )
            self._hooks.cloud_unreachable(message)
            self._feed(
                VoiceStartFailed(self._now(), session_id, "cloud_unreachable", message, True)
            )
        except CloudError as exc:
            network = is_outage(exc) and exc.code is None
            code = exc.code or ("cloud_unreachable" if network else "refused")
            if isinstance(exc, CredentialRejected):
                code = "credential_rejected"
                self._hooks.credential_rejected(str(exc))
            elif network:
                self._hooks.cloud_unreachable(str(exc))
            logger.warning("the cloud did not start a voice session: %s", exc)
            details = exc.details if isinstance(exc.details, dict) else {}
            language = details.get("language")
            say = exc.told if isinstance(language, str) else None
            failed = VoiceStartFailed(
                self._now(),
                session_id,
                code,
                str(exc),
                network,
                status=exc.status,
                say=say,
                say_language=language,
            )
            self._feed(failed)
        else:
            self._hooks.cloud_reachable()
            self._feed(VoiceStarted(self._now(), session_id, start))

    async def converse(
        self, session_id: UUID, member: MemberCard, start: VoiceStartResponse
    ) -> None:
        """Hold the conversation until it finishes or is ended; always answers the machine."""
        loop = asyncio.get_running_loop()
        end_request: asyncio.Future[EndReason] = loop.create_future()
        self._end_requests[session_id] = end_request
        facts = SessionFacts(end_reason=EndReason.REALTIME_ERROR)
        try:
            facts = await self._converse(session_id, member, start, end_request)
        except asyncio.CancelledError:
            facts = SessionFacts(
                end_reason=EndReason.KIOSK_SHUTDOWN,
                errors=("the agent stopped while the conversation was running",),
            )
            raise
        except Exception as exc:
            logger.exception("the conversation runner failed")
            facts = SessionFacts(
                end_reason=EndReason.REALTIME_ERROR,
                errors=(f"the kiosk's conversation runner failed: {exc}",),
            )
        finally:
            self._end_requests.pop(session_id, None)
            self._feed(ConversationEnded(self._now(), session_id, facts))

    def end(self, session_id: UUID, reason: EndReason) -> None:
        request = self._end_requests.get(session_id)
        if request is not None and not request.done():
            request.set_result(reason)

    async def _converse(
        self,
        session_id: UUID,
        member: MemberCard,
        start: VoiceStartResponse,
        end_request: asyncio.Future[EndReason],
    ) -> SessionFacts:
        try:
            conversation = self._factory(session_id, member, self._client)
        except Exception as exc:
            logger.exception("cannot create the conversation")
            return SessionFacts(
                end_reason=EndReason.REALTIME_ERROR,
                errors=(f"the conversation could not be created: {exc}",),
            )
        try:
            try:
                await conversation.start(start)
            except WarmConnectionLost as lost:
                # The warm connection went between the cloud's answer and the start: the
                # same session (same id), with a secret of its own this time.
                logger.warning("%s: starting the session without it", lost)
                assert member.member_id is not None
                request = VoiceStartRequest(session_id=session_id, member_id=member.member_id)
                start = await self._client.voice_start(
                    request, timeout_s=self._voice_start_timeout_s
                )
                conversation = self._factory(session_id, member, self._client)
                await conversation.start(start)
        except Exception as exc:
            logger.error("the conversation did not start: %s", exc)
            facts = await self._close(conversation, EndReason.REALTIME_ERROR)
            return _with(facts, EndReason.REALTIME_ERROR, f"the conversation did not start: {exc}")
        finished: asyncio.Task[ConversationFinished | None] = asyncio.create_task(
            _until_finished(conversation, session_id, self._progress),
            name=f"conversation {session_id}",
        )
        try:
            waiting: set[asyncio.Future[object]] = {finished, end_request}  # type: ignore[arg-type]
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await stop_tasks([finished], logger)
        if end_request.done():
            return await self._close(conversation, end_request.result())
        outcome = _result(finished)
        reason = outcome.reason if outcome is not None else EndReason.REALTIME_ERROR
        facts = await self._close(conversation, reason)
        if outcome is None:
            return _with(facts, reason, "the conversation's events stopped without an end")
        if facts.end_reason is None:
            facts = replace(facts, end_reason=reason)
        if outcome.detail and reason is EndReason.REALTIME_ERROR:
            facts = _with(facts, reason, outcome.detail)
        return facts

    async def _close(self, conversation: Conversation, reason: EndReason) -> SessionFacts:
        try:
            async with asyncio.timeout(self._end_grace_s):
                return await conversation.end(reason)
        except TimeoutError:
            note = f"the conversation did not close within {self._end_grace_s:g} s"
        except Exception as exc:
            note = f"the conversation failed while closing: {exc}"
        logger.warning("%s; recording it as it stands", note)
        try:
            facts = conversation.facts()
        except Exception as exc:
            facts = SessionFacts(errors=(f"its facts could not be read: {exc}",))
        return replace(facts, errors=(*facts.errors, note))


async def _until_finished(
    conversation: Conversation,
    session_id: UUID,
    progress: Callable[[ConversationProgress], None] | None,
) -> ConversationFinished | None:
    async for event in conversation.events():
        if isinstance(event, ConversationFinished):
            return event
        if progress is not None:
            progress(event)
        if event.kind not in ("hearing", "saying"):
            # What was said stays out of the journal: only that something happened.
            logger.info("session %s: %s", str(session_id)[:8], event.kind)
    return None


def _result(task: asyncio.Task[ConversationFinished | None]) -> ConversationFinished | None:
    if task.cancelled():
        return None
    error = task.exception()
    if error is not None:
        logger.error("the conversation's events failed: %s", error)
        return ConversationFinished(EndReason.REALTIME_ERROR, f"the conversation failed: {error}")
    return task.result()


def _with(facts: SessionFacts, reason: EndReason, error: str) -> SessionFacts:
    errors = facts.errors if error in facts.errors else (*facts.errors, error)
    return replace(facts, end_reason=facts.end_reason or reason, errors=errors)
