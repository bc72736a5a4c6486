"""The local Redis for tests: skip with the reason when it is not running; a private key prefix."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from server.limits import WINDOW_SECONDS

REDIS_URL = "redis://127.0.0.1:6379/0"


def wait_for_fresh_window(margin: float = 3.0) -> None:
    """Rate limits count in fixed one-minute windows: do not start counting just before one closes."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < margin:
        time.sleep(left + 0.05)


@contextmanager
def private_redis() -> Iterator[tuple[Any, str]]:
    """(client, prefix) with a prefix unique to this run; every key under it is deleted after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL} ({exc}); start redis-server to run this test")
    prefix = f"govbot-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
