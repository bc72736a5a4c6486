"""Redis down: rate limits, sessions and lockouts fall back in-process (a warning, a metric),
and nothing raises. "Down" is a real refused connection: a port nothing listens on."""

from __future__ import annotations

import time

import pytest

from bot.sessions import RedisSessionStore, SessionState
from core.degraded import DEGRADED
from server.inputs import BadInputError, check_json
from server.limits import RedisRateLimiter
from tests.utils.keys import fresh_keyring
from tests.utils.redis_server import REDIS_URL, private_redis

RING = fresh_keyring()

DOWN = "redis://127.0.0.1:1/0"  # connection refused at once


def _count(part: str) -> float:
    return DEGRADED.labels("redis", part)._value.get()


def test_rate_limits_count_in_memory_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(DOWN, prefix="govbot-test-down:")
    before = _count("rate_limit")
    with caplog.at_level("WARNING"):
        waits = [limiter.hit("ip:10.0.0.1", 3) for _ in range(5)]
    assert waits[:3] == [0, 0, 0] and all(w > 0 for w in waits[3:])  # still limited, per worker
    assert _count("rate_limit") - before == 5
    assert any(r.getMessage() == "redis.down" for r in caplog.records)


def test_sessions_live_in_memory_while_redis_is_down() -> None:
    store = RedisSessionStore(DOWN, ttl_minutes=30, keyring=RING, prefix="govbot-test-down:")
    before = _count("sessions")
    store.put("web:s1", SessionState(last_item_id="item-1", turns=2))
    assert store.get("web:s1").last_item_id == "item-1"
    assert store.get("web:other") == SessionState()
    assert _count("sessions") > before


def test_sessions_go_back_to_redis_when_it_answers() -> None:
    with private_redis() as (client, prefix):
        store = RedisSessionStore(REDIS_URL, ttl_minutes=30, keyring=RING, prefix=prefix)
        held = SessionState(last_item_id="kept-during-outage", updated_at=time.time())  # put in an outage
        store.fallback.put("web:s2", held)
        assert store.get("web:s2").last_item_id == "kept-during-outage"  # not lost when Redis returns
        store.put("web:s2", SessionState(last_item_id="item-2"))
        assert client.get(f"{prefix}web:s2") is not None
        assert store.get("web:s2").last_item_id == "item-2"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
        (b'{"a": ["ok", "x\\u0000"]}', "NUL"),
        (b"\xff\xfe", "UTF-8"),
    ],
)
def test_unstorable_json_is_refused(body: bytes, why: str) -> None:
    with pytest.raises(BadInputError, match=why):
        check_json(body)


@pytest.mark.parametrize("body", [b"", b'{"a": 1.5, "b": "\\u4e2d\\ud83d\\ude00"}', b"{broken", b"[1, 2]"])
def test_storable_or_malformed_json_is_left_to_the_route(body: bytes) -> None:
    check_json(body)  # malformed JSON gets the route's own 422 with the position
