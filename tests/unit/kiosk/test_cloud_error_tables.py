"""What the kiosk does with each error the cloud really sends, replayed from recordings.

``recordings/cloud_errors.json`` holds answers recorded from a real cloud (and kept true by
tests/integration/kiosk/test_cloud_error_recordings.py). Each is replayed through the kiosk's
own HTTP client (httpx.MockTransport) and followed to the behaviour it must cause: the
exception a provisioning installer sees, what a member is told, what the outbox does. Every
answer is also replayed with its code replaced by one this kiosk does not know, as a newer
cloud might send: its HTTP status class must still lead somewhere sensible.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contract import kiosk_api as api
from contract.kiosk_api import EventKind, KioskEvent, MemberCard, MembershipStatus
from kiosk_agent.adapters.cloud import CloudClient, Credentials
from kiosk_agent.adapters.cloud_errors import (
    ClaimRefused,
    CloudError,
    CodeExpired,
    CodeInvalid,
    CodeUsed,
    CredentialRejected,
)
from kiosk_agent.adapters.store_worker import StoreWorker
from kiosk_agent.config import CloudSection, StoreSection
from kiosk_agent.core.conversation import NoConversationFactory
from kiosk_agent.core.machine import (
    AgentStarted,
    Announce,
    BadgeTapped,
    CloudReachable,
    KioskMachine,
    LookupMember,
    MemberChecked,
    MemberSource,
    Moment,
    StartVoice,
    VoiceStartFailed,
)
from kiosk_agent.core.messages import Notice
from kiosk_agent.core.outbox import Failure
from kiosk_agent.services.members import MemberDirectory
from kiosk_agent.services.sessions import SessionRunner
from kiosk_agent.services.uploader import classify

ANSWERS: dict[str, dict[str, Any]] = {
    a["name"]: a
    for a in json.loads((Path(__file__).parent / "recordings" / "cloud_errors.json").read_text())
}
NEW_CODE = "something_a_newer_cloud_says"
BASE = "http://jarvis.test"
ALICE = MemberCard(
    badge_id="04A23B12",
    status=MembershipStatus.ACTIVE,
    member_id=UUID("11111111-1111-1111-1111-111111111111"),
    first_name="Alice",
    language="fr",
)


def replay(name: str, *, code: str | None = None) -> httpx.MockTransport:
    """The cloud answering every call with the recorded answer (tokens are granted)."""
    answer = ANSWERS[name]
    body = json.loads(json.dumps(answer["body"]))
    if code is not None:
        body["error"]["code"] = code
    headers = {"Retry-After": answer["retry_after"]} if answer["retry_after"] else {}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == api.TOKEN and name != "token_refused":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        return httpx.Response(answer["status"], json=body, headers=headers)

    return httpx.MockTransport(handle)


def client(transport: httpx.MockTransport) -> CloudClient:
    credentials = Credentials(uuid4(), "kiosk-credential")
    return CloudClient(BASE, CloudSection(), credentials=credentials, transport=transport)


async def failure(name: str, call: str, *, code: str | None = None) -> CloudError:
    """The error the kiosk's client raises for the recorded answer ``name`` to ``call``."""
    async with client(replay(name, code=code)) as cloud:
        try:
            if call == "claim":
                request = api.ClaimRequest(code="AB3X9K", device_id="kiosk")
                await cloud.claim(request)
            elif call == "voice":
                request_ = api.VoiceStartRequest(session_id=uuid4(), member_id=uuid4())
                await cloud.voice_start(request_, timeout_s=1)
            elif call == "events":
                event = KioskEvent(
                    id=uuid4(), kind=EventKind.AGENT_STARTED, occurred_at=datetime.now(UTC)
                )
                await cloud.upload_events([event])
            else:
                raise AssertionError(call)
        except CloudError as exc:
            return exc
    raise AssertionError(f"{name}: the client did not fail")


# -- provisioning -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("claim_malformed", CodeInvalid),
        ("claim_invalid", CodeInvalid),
        ("claim_used", CodeUsed),
        ("claim_expired", CodeExpired),
    ],
)
async def test_a_refused_code_gets_its_own_error(name: str, kind: type[ClaimRefused]) -> None:
    error = await failure(name, "claim")
    assert type(error) is kind
    assert error.code == ANSWERS[name]["body"]["error"]["code"]
    # A newer cloud's refusal code: the status the cloud gives each kind still tells them apart.
    assert type(await failure(name, "claim", code=NEW_CODE)) is kind


async def test_an_unknown_refusal_with_an_unusual_status_is_a_plain_refusal() -> None:
    error = await failure("badge_malformed", "claim", code=NEW_CODE)  # 422 → not a code at all
    assert type(error) is CodeInvalid
    error = await failure("member_suspended", "claim", code=NEW_CODE)  # 403: nothing specific
    assert type(error) is ClaimRefused
    assert error.code == NEW_CODE


async def test_a_refused_credential_is_a_rejected_credential() -> None:
    error = await failure("token_refused", "events")
    assert isinstance(error, CredentialRejected)


# -- voice sessions: what the member is told ----------------------------------------------


class NoHooks:
    def cloud_reachable(self) -> None: ...

    def cloud_unreachable(self, reason: str) -> None: ...

    def credential_rejected(self, reason: str) -> None: ...

    def error(self, message: str) -> None: ...


def moment(seconds: float) -> Moment:
    wall = datetime(2026, 11, 22, 9, tzinfo=UTC) + timedelta(seconds=seconds)
    return Moment(wall=wall, mono=seconds)


async def told(name: str, *, code: str | None = None) -> Announce:
    """What the kiosk says when the cloud refuses to start Alice's session with ``name``."""
    machine = KioskMachine()
    machine.handle(AgentStarted(moment(0), provisioned=True, store_ok=True))
    machine.handle(CloudReachable(moment(0)))
    check = machine.handle(BadgeTapped(moment(1), ALICE.badge_id))[0]
    assert isinstance(check, LookupMember)
    start = machine.handle(MemberChecked(moment(2), check.check_id, ALICE, MemberSource.CLOUD))[0]
    assert isinstance(start, StartVoice)
    fed: list[Any] = []
    async with client(replay(name, code=code)) as cloud:
        runner = SessionRunner(
            cloud,
            NoConversationFactory(),
            NoHooks(),
            feed=fed.append,
            now=lambda: moment(3),
            voice_start_timeout_s=2,
            end_grace_s=1,
        )
        await runner.start_voice(start.session_id, ALICE)
    [refusal] = fed
    assert isinstance(refusal, VoiceStartFailed)
    assert refusal.status == ANSWERS[name]["status"]
    effects = machine.handle(refusal)
    announce = effects[0]
    assert isinstance(announce, Announce)
    return announce


@pytest.mark.parametrize(
    ("name", "notice"),
    [
        ("member_not_found", Notice.BADGE_UNKNOWN),
        ("member_suspended", Notice.BADGE_SUSPENDED),
        ("membership_expired", Notice.BADGE_EXPIRED),
        ("member_session_limit", Notice.SESSION_LIMIT),
        ("daily_budget_exhausted", Notice.BUDGET_REACHED),
        ("voice_not_configured", Notice.SESSION_REFUSED),
        ("openai_unreachable", Notice.SESSION_FAILED),
        ("session_id_in_use", Notice.SESSION_FAILED),
        ("rate_limited", Notice.SESSION_REFUSED),
    ],
)
async def test_a_refused_session_is_explained_by_its_code(name: str, notice: Notice) -> None:
    announce = await told(name)
    assert announce.notice is notice
    error = ANSWERS[name]["body"]["error"]
    if isinstance(error.get("details"), dict) and "language" in error["details"]:
        assert announce.text == error["message"]  # the cloud's own sentence for the member
        assert announce.language == error["details"]["language"]


@pytest.mark.parametrize(
    "name", ["member_suspended", "member_session_limit", "voice_not_configured", "rate_limited"]
)
async def test_an_unknown_refusal_is_explained_by_its_status_class(name: str) -> None:
    announce = await told(name, code=NEW_CODE)
    server_side = ANSWERS[name]["status"] >= 500
    assert announce.notice is (Notice.SESSION_FAILED if server_side else Notice.SESSION_REFUSED)


# -- the outbox: what a refused upload means -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("sessions_invalid", Failure.BATCH_REFUSED),
        ("events_invalid", Failure.BATCH_REFUSED),
        ("rate_limited", Failure.RATE_LIMITED),
        ("invalid_token", Failure.AUTH),
        ("missing_token", Failure.AUTH),
        ("token_refused", Failure.AUTH),
        ("openai_unreachable", Failure.UNAVAILABLE),
        ("member_suspended", Failure.AUTH),
    ],
)
async def test_a_failed_upload_is_classified_by_its_code(name: str, meaning: Failure) -> None:
    assert classify(await failure(name, "events")) is meaning


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("sessions_invalid", Failure.BATCH_REFUSED),  # 422
        ("rate_limited", Failure.RATE_LIMITED),  # 429
        ("claim_used", Failure.UNAVAILABLE),  # 409: nothing the outbox can fix, retried
        ("voice_not_configured", Failure.UNAVAILABLE),  # 503
    ],
)
async def test_an_unknown_upload_failure_is_classified_by_its_status(
    name: str, meaning: Failure
) -> None:
    assert classify(await failure(name, "events", code=NEW_CODE)) is meaning


# -- member sync: a cursor the cloud no longer reads ---------------------------------------


async def test_a_refused_sync_cursor_is_forgotten_and_the_sync_starts_over(
    tmp_path: Path,
) -> None:
    store = StoreWorker(tmp_path / "kiosk.db", StoreSection())
    assert await store.open()
    try:
        await store.write(lambda s: s.save_members([ALICE], cursor="from-an-older-cloud"))
        async with client(replay("cursor_malformed")) as cloud:
            directory = MemberDirectory(
                store, cloud, NoHooks(), lookup_timeout_s=1, sync_interval_s=60
            )
            assert await directory.sync() == 0
        assert await store.read(lambda s: s.member_cursor()) is None
        assert await store.read(lambda s: s.member(ALICE.badge_id)) == ALICE  # cache kept
    finally:
        await store.close()
