"""Messages for members outside a conversation: on screen, and spoken with espeak-ng.

The screen is a small JSON file (``screen.json`` in the state folder, replaced atomically)
that a display process shows; the kiosk also logs each message. Speech uses espeak-ng when it
is installed (``apt install espeak-ng``), through the system's default sound output; a newer
message interrupts the one being spoken. Without espeak-ng messages are shown only, and the
log says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

_ESPEAK_VOICES = {"fr": "fr", "en": "en-gb"}


class Announcer:
    def __init__(self, screen_path: Path, *, speak: bool, espeak_command: str) -> None:
        self._screen_path = screen_path
        self._espeak = shutil.which(espeak_command) if speak else None
        if speak and self._espeak is None:
            logger.warning(
                "%s is not installed: member messages are shown on screen only "
                "(install it with `sudo apt install espeak-ng`)",
                espeak_command,
            )
        self._speaking: asyncio.subprocess.Process | None = None

    @property
    def speaks(self) -> bool:
        return self._espeak is not None

    async def announce(self, notice: str, text: str, language: str, *, spoken: bool) -> None:
        logger.info("message for the member (%s): %s", notice, text)
        await asyncio.to_thread(self._show, notice, text, language)
        if spoken and self._espeak is not None:
            await self._say(text, language)

    def clear(self) -> None:
        self._show("", "", "")

    def _show(self, notice: str, text: str, language: str) -> None:
        screen = {
            "notice": notice,
            "text": text,
            "language": language,
            "at": datetime.now(UTC).isoformat(),
        }
        temporary = self._screen_path.with_name(f".{self._screen_path.name}.tmp")
        try:
            self._screen_path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(screen, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, self._screen_path)
        except OSError as exc:
            logger.warning("cannot update the screen file %s: %s", self._screen_path, exc)

    async def _say(self, text: str, language: str) -> None:
        await self.stop()
        assert self._espeak is not None
        voice = _ESPEAK_VOICES.get(language, "en-gb")
        try:
            self._speaking = await asyncio.create_subprocess_exec(
                self._espeak,
                "-v",
                voice,
                "-s",
                "160",
                "--",
                text,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            logger.warning("cannot run espeak-ng: %s", exc)
            return
        process = self._speaking
        _, stderr = await process.communicate()
        if process.returncode not in (0, None, -15) and stderr:
            logger.warning("espeak-ng failed: %s", stderr.decode(errors="replace").strip()[:300])

    async def stop(self) -> None:
        """Stop speaking now."""
        process, self._speaking = self._speaking, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
