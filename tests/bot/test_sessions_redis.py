"""Sessions and rate limits in the real local Redis: sharing, TTL expiry, renewal.

Time is a ManualClock: expiry and rate windows are judged by the injected clock, so the tests
move it instead of sleeping (Redis's own key expiry is checked through the TTL it was given).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.messages import Option
from bot.sessions import RedisSessionStore, SessionState, open_session_store
from core.clock import ManualClock
from server.limits import WINDOW_SECONDS, RedisRateLimiter
from tests.utils.keys import fresh_keyring
from tests.utils.redis_server import REDIS_URL, private_redis

RING = fresh_keyring()


@pytest.fixture
def redis_prefix() -> Iterator[tuple[Any, str]]:
    with private_redis() as found:
        yield found


def test_two_stores_share_one_conversation(redis_prefix: tuple[Any, str]) -> None:
    client, prefix = redis_prefix
    first = RedisSessionStore(REDIS_URL, ttl_minutes=30, keyring=RING, prefix=prefix)
    second = RedisSessionStore(REDIS_URL, ttl_minutes=30, keyring=RING, prefix=prefix)
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
    clock = ManualClock()
    store = RedisSessionStore(REDIS_URL, ttl_minutes=30, keyring=RING, prefix=prefix, clock=clock)
    try:
        store.put("alice", SessionState(last_item_id="passport"))
        clock.advance(minutes=20)
        client.expire(f"{prefix}alice", 60)  # Redis's clock has run too
        store.put("alice", store.get("alice"))  # activity renews the session and the key's TTL
        assert client.ttl(f"{prefix}alice") > 60
        clock.advance(minutes=20)  # 40 minutes after the first write, 20 after the last
        assert store.get("alice").last_item_id == "passport"
        clock.advance(minutes=10, seconds=1)
        assert store.get("alice") == SessionState()  # 30 minutes idle: forgotten
    finally:
        store.close()


def test_an_expired_key_is_an_empty_session(redis_prefix: tuple[Any, str]) -> None:
    """When Redis has dropped the key (its TTL ran out), the conversation starts afresh."""
    client, prefix = redis_prefix
    store = RedisSessionStore(REDIS_URL, ttl_minutes=30, keyring=RING, prefix=prefix, clock=ManualClock())
    try:
        store.put("alice", SessionState(last_item_id="passport"))
        assert 0 < client.ttl(f"{prefix}alice") <= 30 * 60
        assert client.expire(f"{prefix}alice", 0)  # a TTL that has run out: Redis drops the key
        assert client.exists(f"{prefix}alice") == 0
        assert store.get("alice") == SessionState()
    finally:
        store.close()


def test_open_session_store_uses_the_configured_prefix(redis_prefix: tuple[Any, str], tmp_path: Any) -> None:
    client, prefix = redis_prefix
    store = open_session_store(tmp_path / "unused.sqlite", 30, REDIS_URL, prefix, keyring=RING)
    try:
        store.put("web:carol", SessionState(turns=2))
        assert client.exists(f"{prefix}session:web:carol") == 1
        assert not (tmp_path / "unused.sqlite").exists()
    finally:
        store.close()


def test_rate_limit_is_shared_between_two_limiters(redis_prefix: tuple[Any, str]) -> None:
    _client, prefix = redis_prefix
    clock = ManualClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))  # the start of a one-minute window
    worker_a = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock)
    worker_b = RedisRateLimiter(REDIS_URL, prefix=prefix, clock=clock)
    waits = [worker_a.hit("ip:10.0.0.1", 3), worker_b.hit("ip:10.0.0.1", 3), worker_a.hit("ip:10.0.0.1", 3)]
    assert waits == [0, 0, 0]
    clock.advance(seconds=20)
    assert worker_b.hit("ip:10.0.0.1", 3) == WINDOW_SECONDS - 20 + 1  # refused until the window ends
    assert worker_a.hit("ip:10.0.0.2", 3) == 0  # another address has its own count
    clock.advance(seconds=40)  # the next window
    assert worker_b.hit("ip:10.0.0.1", 3) == 0
