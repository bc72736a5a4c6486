"""The Rasa REST channel (`/webhooks/rest/...`) and Rasa's NLU endpoint (`/model/parse`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

# Keys a Rasa REST bot message may carry (rasa.core.channels CollectingOutputChannel).
RASA_MESSAGE_KEYS = {"recipient_id", "text", "buttons", "image", "attachment", "custom"}


def _sender() -> str:
    return f"rasa-{uuid.uuid4().hex}"


def _say(client: TestClient, sender: str | int, text: str) -> list[dict[str, Any]]:
    response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    messages = response.json()
    assert isinstance(messages, list) and messages
    for message in messages:
        assert set(message) <= RASA_MESSAGE_KEYS
        assert message["recipient_id"] == str(sender)
    return messages


def test_health_like_rasa(client: TestClient) -> None:
    response = client.get("/webhooks/rest/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_answer_is_text_then_the_card_as_custom_payload(client: TestClient) -> None:
    messages = _say(client, _sender(), "普通护照首次申领怎么办")
    text, card = messages
    assert "护照" in text["text"] and "buttons" not in text
    custom = card["custom"]
    assert custom["type"] == "govbot.answer_card" and custom["action"] == "answer"
    assert custom["item_id"] == custom["card"]["id"]
    assert "护照" in custom["card"]["title"]
    assert len(custom["sources"]) >= 5


def test_followup_continues_per_sender_and_not_across_channels(client: TestClient) -> None:
    sender = _sender()
    first = _say(client, sender, "普通护照首次申领怎么办")[1]["custom"]
    again = _say(client, sender, "需要什么材料？")
    assert again[1]["custom"]["item_id"] == first["item_id"]
    # The same id on the web channel is another conversation: no context there.
    web = client.post("/api/v1/chat", json={"session_id": sender, "text": "需要什么材料？"}).json()
    assert web["item_id"] != first["item_id"]
    # And a new sender on this channel has no context either.
    fresh = _say(client, _sender(), "需要什么材料？")
    assert all(m.get("custom", {}).get("item_id") != first["item_id"] for m in fresh)


def test_clarify_options_become_buttons_and_a_payload_picks_one(client: TestClient) -> None:
    sender = _sender()
    messages = _say(client, sender, "社保卡")
    buttons = messages[0].get("buttons")
    assert buttons, f"expected a clarify question with buttons, got {messages}"
    assert len(messages) == 1  # a clarify question has no card
    assert [b["payload"] for b in buttons[:5]] == [str(i) for i in range(1, min(len(buttons), 5) + 1)]
    assert all(b["title"] in messages[0]["text"] for b in buttons)
    chosen = buttons[1]
    picked = _say(client, sender, chosen["payload"])
    custom = picked[1]["custom"]
    assert custom["action"] == "answer"
    assert custom["sources"][0]["title"] == chosen["title"]


def test_numeric_sender_and_metadata_are_accepted(client: TestClient) -> None:
    sender = 10_000 + uuid.uuid4().int % 1_000_000
    body = {"sender": sender, "message": "你好", "metadata": {"page": "/banshi"}}
    response = client.post("/webhooks/rest/webhook", json=body)
    assert response.status_code == 200
    assert response.json()[0]["recipient_id"] == str(sender)


@pytest.mark.parametrize(
    "payload",
    [{"sender": "x"}, {"sender": "", "message": "你好"}, []],  # a long sender is fine: test_hardening
)
def test_malformed_requests_are_refused(client: TestClient, payload: Any) -> None:
    assert client.post("/webhooks/rest/webhook", json=payload).status_code == 422


def test_parse_has_rasa_shape_and_offsets_index_the_returned_text(client: TestClient) -> None:
    response = client.post(
        "/model/parse", json={"text": "我在天河区，电话１３８１２３４５６７８，护照怎么办"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"text", "intent", "intent_ranking", "entities"}
    text = body["text"]
    assert "13812345678" in text  # normalised: offsets refer to this text, not the raw input
    assert isinstance(body["intent"]["name"], str) and body["intent"]["name"]
    assert 0.0 <= body["intent"]["confidence"] <= 1.0
    ranking = body["intent_ranking"]
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert ranking[0]["name"] == body["intent"]["name"]
    by_type = {e["entity"]: e for e in body["entities"]}
    assert {"phone", "district"} <= set(by_type)
    for entity in body["entities"]:
        assert {"entity", "value", "start", "end", "extractor"} <= set(entity)
        assert 0 <= entity["start"] < entity["end"] <= len(text)
    phone = by_type["phone"]
    assert text[phone["start"] : phone["end"]] == phone["value"] == "13812345678"
    district = by_type["district"]
    assert text[district["start"] : district["end"]] == "天河区"


def test_parse_echoes_message_id_and_refuses_bad_bodies(client: TestClient) -> None:
    body = client.post("/model/parse", json={"text": "你好", "message_id": "m-1"}).json()
    assert body["message_id"] == "m-1"
    assert body["intent"]["name"] == "greet"
    assert client.post("/model/parse", json={"message_id": "m-2"}).status_code == 422
    assert "/model/parse" in client.get("/openapi.json").json()["paths"]
