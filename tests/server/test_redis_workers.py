"""Two app instances (two workers) over one Redis: one conversation, one rate limit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import server_settings
from tests.utils.redis_server import REDIS_URL, private_redis, wait_for_fresh_window

RATE_PER_SESSION = 3


@pytest.fixture(scope="module")
def workers(prepared_dir: Path) -> Iterator[tuple[TestClient, TestClient, Any, str]]:
    """Two warm apps sharing the local Redis under a private prefix."""
    with private_redis() as (redis_client, prefix):
        apps = []
        for _ in range(2):
            settings = server_settings(prepared_dir, rate_per_session=RATE_PER_SESSION, redis_prefix=prefix)
            settings.secrets.redis_url = REDIS_URL
            apps.append(create_app(settings))
        with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
            yield first, second, redis_client, prefix


def _chat(client: TestClient, sid: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"session_id": sid, "text": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_followup_in_the_second_worker_continues_the_conversation(
    workers: tuple[TestClient, TestClient, Any, str],
) -> None:
    first, second, redis_client, prefix = workers
    sid = uuid.uuid4().hex
    opened = _chat(first, sid, "普通护照首次申领怎么办")
    assert opened["action"] == "answer"
    follow = _chat(second, sid, "需要什么材料？")
    assert follow["action"] == "answer" and follow["item_id"] == opened["item_id"]
    key = f"{prefix}session:web:{sid}"
    assert 0 < redis_client.ttl(key) <= 30 * 60
    assert _chat(second, uuid.uuid4().hex, "需要什么材料？")["item_id"] != opened["item_id"]


def test_an_expired_session_is_forgotten_by_every_worker(
    workers: tuple[TestClient, TestClient, Any, str],
) -> None:
    first, second, redis_client, prefix = workers
    sid = uuid.uuid4().hex
    opened = _chat(first, sid, "普通护照首次申领怎么办")
    assert opened["action"] == "answer"
    key = f"{prefix}session:web:{sid}"
    assert redis_client.pexpire(key, 0)  # the TTL runs out now instead of in 30 minutes
    assert redis_client.exists(key) == 0
    follow = _chat(second, sid, "需要什么材料？")
    assert follow["item_id"] != opened["item_id"]
    assert follow["action"] == "clarify"  # a follow-up without context: which matter?


def test_session_rate_limit_counts_across_workers(workers: tuple[TestClient, TestClient, Any, str]) -> None:
    first, second, _redis, _prefix = workers
    sid = uuid.uuid4().hex
    wait_for_fresh_window()
    codes = [
        client.post("/api/v1/chat", json={"session_id": sid, "text": "你好"}).status_code
        for client in (first, second, first, second)
    ]
    assert codes == [200, 200, 200, 429]
    assert first.post("/api/v1/chat", json={"session_id": sid, "text": "你好"}).status_code == 429
    other = second.post("/api/v1/chat", json={"session_id": uuid.uuid4().hex, "text": "你好"})
    assert other.status_code == 200
