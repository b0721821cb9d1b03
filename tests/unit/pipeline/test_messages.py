"""Alert and digest messages in French and English; webhook signatures a receiver accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cloud_api.delivery.messages import alert_message, digest_message
from cloud_api.delivery.webhooks import signed_request
from contract.pricing import text_cost

ALERT = {
    "id": "6f1c0c4e-0000-4000-8000-000000000001",
    "type": "equipment_issue",
    "priority": "high",
    "title": "Équipement signalé : tapis 3",
    "description": "Encore en panne.",
    "recommended_actions": ["Inspecter la machine"],
    "gym": {"id": "g", "slug": "atlas", "name": "Atlas Bordeaux"},
    "member": {"id": "m", "first_name": "Hugo"},
    "kiosk": None,
}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Priorité : haute", "Membre : Hugo", "Actions recommandées"]),
        ("en", ["Priority: high", "Member: Hugo", "Recommended actions"]),
    ],
)
def test_alert_message_in_each_language(language: str, words: list[str]) -> None:
    message = alert_message(ALERT, language, "https://jarvis.example")
    assert message.subject == "[JARVIS] Équipement signalé : tapis 3"
    for word in words:
        assert word in message.text
    assert "https://jarvis.example/dashboard/alerts/" + ALERT["id"] in message.text


def test_digest_lists_every_alert() -> None:
    message = digest_message(ALERT["gym"], [ALERT, {**ALERT, "title": "Autre"}], "fr", "http://x")
    assert "2 alerte(s)" in message.subject
    assert "Équipement signalé" in message.text
    assert "Autre" in message.text


def test_webhook_signature_verifies_and_a_tampered_body_does_not() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body, headers = signed_request(secret, "msg_1", "alert.raised", ALERT, datetime.now(UTC))
    assert Webhook(secret).verify(body, headers)["data"]["title"] == ALERT["title"]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"tapis", b"velo!"), headers)


def test_text_model_costs() -> None:
    assert text_cost("gpt-4o-mini", 1_000_000, 0) == Decimal("0.15")
    assert text_cost("gpt-4o-mini-2024-07-18", 1000, 500) == Decimal("0.000450")
    assert text_cost("text-embedding-3-small", 1_000_000, 0) == Decimal("0.02")
