"""What the kiosk routes share: error docs and the kiosk's config from its row."""

from __future__ import annotations

from typing import Any

from cloud_api.errors import error_responses
from contract import kiosk_api as api

ERRORS = error_responses(401, 422, 429)


def kiosk_config(row: dict[str, Any]) -> api.KioskConfig:
    """The config a kiosk should run with, from its row."""
    return api.KioskConfig(
        voice=row["voice"], language=row["language"], openai_model=row["openai_model"]
    )
