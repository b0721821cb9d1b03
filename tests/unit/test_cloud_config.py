import pytest
from pydantic import ValidationError

from cloud_api.config import CloudSettings
from cloud_api.db.database import request_context
from cloud_api.runtime import derive_api_url


def test_production_refuses_the_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("JARVIS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="needs DATABASE_URL"):
        CloudSettings(_env_file=None)  # type: ignore[call-arg]


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:pw@db.example.com:5432/postgres")
    monkeypatch.setenv("JARVIS_PORT", "9000")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = CloudSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.port == 9000
    assert settings.openai_api_key is not None
    assert "sk-test" not in repr(settings)  # secrets never print


def test_api_url_is_derived_for_the_login_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:pw@db.example.com:5432/postgres")
    monkeypatch.setenv("JARVIS_API_DB_PASSWORD", "api-secret")
    url = derive_api_url(CloudSettings(_env_file=None))  # type: ignore[call-arg]
    assert "user=jarvis_api" in url
    assert "password=api-secret" in url
    assert "host=db.example.com" in url


def test_request_context_defaults_to_anon() -> None:
    assert request_context(None) == ("anon", '{"role":"anon"}')
    role, claims = request_context({"sub": "abc", "role": "authenticated"})
    assert role == "authenticated"
    assert '"sub":"abc"' in claims
