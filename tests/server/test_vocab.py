"""GET /api/v1/vocab serves core/vocab.py to the console and the widget, and the chat door
accepts only the channels declared there (the channel keys sessions and labels metrics)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core import vocab
from server.app import create_app
from tests.server.conftest import server_settings


@pytest.fixture(scope="module")
def cold_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    # No `with`: neither route needs the warmed engine.
    return TestClient(create_app(server_settings(tmp_path_factory.mktemp("vocab-data"))))


def test_vocab_is_public_cacheable_and_the_declared_one(cold_client: TestClient) -> None:
    response = cold_client.get("/api/v1/vocab")  # no token
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=")
    body = response.json()
    assert list(body["channels"]) == list(vocab.CHANNELS)
    assert list(body["roles"]) == list(vocab.ROLES)
    assert body["states"] == list(vocab.STATES)
    assert body["ticket_types"] == list(vocab.TYPES)
    assert body["satisfaction"] == list(vocab.SATISFACTION)
    assert body["step_roles"] == {side: list(roles) for side, roles in vocab.STEP_ROLES.items()}
    served = {(s["from"], s["to"]): (s["action"], s["by"]) for s in body["transitions"]}
    assert served == {key: (step.action, step.by) for key, step in vocab.TRANSITIONS.items()}
    assert list(body["ticket_fields"].items()) == list(vocab.TICKET_FIELD_LABELS.items())  # order kept
    assert list(body["card_fields"].items()) == list(vocab.GUIDE_FIELD_LABELS.items())


def test_vocab_is_the_same_whatever_the_deployment(cold_client: TestClient, tmp_path: Path) -> None:
    """Nothing from the settings (tokens, secrets, routing) reaches this public answer."""
    other = server_settings(tmp_path)
    other.secrets.api_tokens = "another-token-9876543210:admin"
    other.tickets.default_department = "某某测试部门"
    other_client = TestClient(create_app(other))
    assert other_client.get("/api/v1/vocab").json() == cold_client.get("/api/v1/vocab").json()


def test_chat_refuses_an_undeclared_channel_and_names_the_valid_ones(cold_client: TestClient) -> None:
    response = cold_client.post(
        "/api/v1/chat", json={"session_id": "s1", "text": "居住证怎么办", "channel": "x" * 20}
    )
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    for name in vocab.CHANNELS:
        assert f"'{name}'" in message


def test_chat_over_the_rasa_channel_is_counted_under_rasa(client: TestClient) -> None:
    session = uuid.uuid4().hex
    response = client.post(
        "/api/v1/chat", json={"session_id": session, "text": "居住证怎么办理", "channel": "rasa"}
    )
    assert response.status_code == 200
    metrics = client.get("/metrics").text
    assert any(
        line.startswith("govbot_replies_total") and 'channel="rasa"' in line for line in metrics.splitlines()
    )
