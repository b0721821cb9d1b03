"""The kiosk's screen in headless Chromium: every state it can show, in French and English,
pushed by the agent's feed (server-sent events), with nothing loaded from elsewhere.

The page is served by the real ScreenServer in a thread of its own; the test moves the
feed as the agent would. Screenshots of each state land in tests/screenshots/screen/."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kiosk_agent.core.machine_io import AgentState
from kiosk_agent.screen.feed import ScreenFeed
from kiosk_agent.screen.model import ScreenModel
from kiosk_agent.screen.server import ScreenServer
from tests.browser import SCREENSHOTS, chromium
from tests.unit.realtime.kiosk_session import JULIE

SHOTS = SCREENSHOTS / "screen"

SAM = JULIE.model_copy(update={"first_name": "Sam", "language": "en"})


class Screen:
    """The screen server in a thread with its own event loop, driven like the agent does."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.levels = [0.0]
        self.taps: list[str] = []
        self.feed: ScreenFeed
        self.server: ScreenServer
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(20)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.feed = ScreenFeed(
            ScreenModel(language="fr", simulate_badge=True), level=lambda: self.levels[-1]
        )
        self.server = ScreenServer(self.feed, port=0, tap=self.taps.append)
        self.loop.run_until_complete(self.server.start())
        ready.set()
        self.loop.run_forever()

    async def _stop(self) -> None:
        await self.server.stop()
        # sse-starlette keeps a shutdown watcher per event loop: end it with the loop.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def do(self, action: Callable[..., Any], *args: Any) -> None:
        """Call a feed method in the screen's loop, as the agent's loop would."""
        done = threading.Event()

        def call() -> None:
            action(*args)
            done.set()

        self.loop.call_soon_threadsafe(call)
        done.wait(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(20)
        self.loop.close()


@pytest.fixture(scope="module")
def screen() -> Iterator[Screen]:
    served = Screen()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def page(screen: Screen) -> Iterator[Page]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        elsewhere: list[str] = []
        page.on(
            "request",
            lambda request: (
                elsewhere.append(request.url)
                if not request.url.startswith(screen.server.url)
                else None
            ),
        )
        page.goto(screen.server.url)
        yield page
        assert elsewhere == []  # nothing from the internet: the page's own files only
        context.close()


def shows(page: Page, mode: str, title: str, shot: str) -> None:
    expect(page.locator("body")).to_have_attribute("data-mode", mode)
    expect(page.locator("#title")).to_have_text(title)
    page.screenshot(path=str(SHOTS / f"{shot}.png"))


def test_every_state_in_french_and_english(screen: Screen, page: Page) -> None:
    screen.do(screen.feed.agent_state, AgentState.UNPROVISIONED)
    shows(page, "unprovisioned", "Borne à configurer", "unprovisioned")
    expect(page.locator("#steps")).to_contain_text("sudo jarvis-kiosk provision")

    screen.do(screen.feed.identity, {"kiosk": "Entrée", "gym": "Atlas Bordeaux"}, "fr")
    screen.do(screen.feed.agent_state, AgentState.IDLE)
    shows(page, "tap", "Badgez pour parler à JARVIS", "tap")
    expect(page.locator("#place")).to_have_text("Atlas Bordeaux · Entrée")
    expect(page.locator("#steps")).to_be_hidden()

    screen.do(screen.feed.agent_state, AgentState.MEMBER_CHECK)
    shows(page, "checking", "Un instant…", "checking")
    screen.do(screen.feed.serving, JULIE)
    shows(page, "welcome", "Bonjour Julie !", "welcome")

    screen.do(screen.feed.agent_state, AgentState.IN_SESSION)
    screen.do(screen.feed.conversation, "speaking")
    screen.do(screen.feed.conversation, "saying", "Bonjour Julie, que")
    screen.do(screen.feed.conversation, "said", "Bonjour Julie, que puis-je faire pour toi ?")
    shows(page, "speaking", "JARVIS vous répond", "speaking")
    expect(page.locator(".caption.jarvis")).to_have_text(
        "JARVISBonjour Julie, que puis-je faire pour toi ?"
    )

    screen.levels.append(0.7)
    screen.do(screen.feed.conversation, "listening")
    shows(page, "listening", "Je vous écoute", "listening")
    page.wait_for_function("document.getElementById('level').style.width === '70%'")
    screen.do(screen.feed.conversation, "hearing", "Quels sont mes")
    expect(page.locator(".caption.member.partial")).to_have_text("VousQuels sont mes")
    screen.do(screen.feed.conversation, "heard", "Quels sont mes cours cette semaine ?")
    expect(page.locator(".caption.member")).to_have_text("VousQuels sont mes cours cette semaine ?")
    page.screenshot(path=str(SHOTS / "captions.png"))

    screen.do(screen.feed.agent_state, AgentState.CLOSING)
    shows(page, "goodbye", "À bientôt Julie !", "goodbye")
    screen.do(screen.feed.agent_state, AgentState.IDLE)
    expect(page.locator(".caption")).to_have_count(0)

    screen.do(screen.feed.agent_state, AgentState.MEMBER_CHECK)
    screen.do(screen.feed.serving, SAM)
    shows(page, "welcome", "Hello Sam!", "welcome-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screen.do(screen.feed.agent_state, AgentState.IN_SESSION)
    screen.do(screen.feed.conversation, "listening")
    shows(page, "listening", "I'm listening", "listening-en")

    screen.do(screen.feed.agent_state, AgentState.IDLE)
    screen.do(
        screen.feed.announce,
        "badge_expired",
        "Bonjour Léo, votre abonnement a expiré le 01/03/2026. Passez à l'accueil.",
        "fr",
    )
    expect(page.locator("#message")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("votre abonnement a expiré")
    page.screenshot(path=str(SHOTS / "message.png"))

    screen.do(screen.feed.agent_state, AgentState.OFFLINE)
    shows(page, "offline", "JARVIS n'est pas joignable", "offline")
    screen.do(screen.feed.agent_state, AgentState.OUT_OF_SERVICE)
    shows(page, "out_of_service", "Borne en maintenance", "out-of-service")


def test_the_simulate_badge_control_taps_a_badge(screen: Screen, page: Page) -> None:
    screen.do(screen.feed.agent_state, AgentState.IDLE)
    page.fill("#badge", "0a:11:ce:00")
    page.click("#badge-button")
    page.wait_for_function("true")
    for _ in range(100):
        if screen.taps:
            break
        page.wait_for_timeout(50)
    assert screen.taps == ["0A11CE00"]  # normalized as a reader's would be


def test_the_page_allows_nothing_but_its_own_files(screen: Screen, page: Page) -> None:
    headers = page.request.get(screen.server.url).headers
    assert "default-src 'self'" in headers["content-security-policy"]
