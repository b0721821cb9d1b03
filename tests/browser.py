"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Never downloads a browser. One browser per test module (see the `browser` fixtures of the
modules that use it); a fresh context (cookies) per person signed in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots of every main page, for review (git-ignored).
SCREENSHOTS = Path(os.environ.get("JARVIS_SCREENSHOTS", Path(__file__).parent / "screenshots"))


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
