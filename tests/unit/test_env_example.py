"""Every cloud setting is documented in .env.example (fails the day one is added silently)."""

from pathlib import Path

from pydantic import AliasChoices

from cloud_api.config import CloudSettings

ENV_EXAMPLE = (Path(__file__).resolve().parents[2] / ".env.example").read_text()


def env_names(field_name: str) -> list[str]:
    field = CloudSettings.model_fields[field_name]
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"JARVIS_{field_name.upper()}"]


def test_every_cloud_setting_is_in_env_example() -> None:
    missing = [
        names[0]
        for names in map(env_names, CloudSettings.model_fields)
        if not any(name in ENV_EXAMPLE for name in names)
    ]
    assert missing == []
