"""Sessions and rate limits in the real local Redis: sharing, TTL expiry, renewal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.messages import Option
from bot.sessions import RedisSessionStore, SessionState, open_session_store
from server.limits import WINDOW_SECONDS, RedisRateLimiter
from tests.utils.redis_server import REDIS_URL, private_redis, wait_for_fresh_window


@pytest.fixture
def redis_prefix() -> Iterator[tuple[Any, str]]:
    with private_redis() as found:
        yield found


def test_two_stores_share_one_conversation(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    first = RedisSessionStore(REDIS_URL, ttl_minutes=30, prefix=prefix)
    second = RedisSessionStore(REDIS_URL, ttl_minutes=30, prefix=prefix)
    try:
        state = SessionState(
            last_item_id="passport", last_action="clarify", options=[Option(id="a", title="甲")]
        )
        first.put("web:alice", state)
        loaded = second.get("web:alice")
        assert loaded.last_item_id == "passport" and loaded.options == [Option(id="a", title="甲")]
        assert second.get("web:bob") == SessionState()
        assert 0 < client.ttl(f"{prefix}web:alice") <= 30 * 60
    finally:
        first.close()
        second.close()


def test_session_expires_after_its_ttl_and_each_write_renews_it(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    store = RedisSessionStore(REDIS_URL, ttl_minutes=30, prefix=prefix)
    store.ttl_seconds = 1  # the real expiry, at test speed
    try:
        store.put("alice", SessionState(last_item_id="passport"))
        time.sleep(0.6)
        store.put("alice", store.get("alice"))  # activity renews the TTL
        time.sleep(0.6)
        assert store.get("alice").last_item_id == "passport"
        time.sleep(1.2)
        assert store.get("alice") == SessionState()
        assert client.exists(f"{prefix}alice") == 0
    finally:
        store.close()


def test_open_session_store_uses_the_configured_prefix(redis_prefix: tuple[Any, str], tmp_path: Any) -> None:
    client, prefix = redis_prefix
    store = open_session_store(tmp_path / "unused.sqlite", 30, REDIS_URL, prefix)
    try:
        store.put("web:carol", SessionState(turns=2))
        assert client.exists(f"{prefix}session:web:carol") == 1
        assert not (tmp_path / "unused.sqlite").exists()
    finally:
        store.close()


def test_rate_limit_is_shared_between_two_limiters(redis_prefix: tuple[Any, str]) -> None:
    _client, prefix = redis_prefix
    worker_a = RedisRateLimiter(REDIS_URL, prefix=prefix)
    worker_b = RedisRateLimiter(REDIS_URL, prefix=prefix)
    wait_for_fresh_window()
    waits = [worker_a.hit("ip:10.0.0.1", 3), worker_b.hit("ip:10.0.0.1", 3), worker_a.hit("ip:10.0.0.1", 3)]
    assert waits == [0, 0, 0]
    refused = worker_b.hit("ip:10.0.0.1", 3)
    assert 0 < refused <= WINDOW_SECONDS + 1
    assert worker_a.hit("ip:10.0.0.2", 3) == 0  # another address has its own count
