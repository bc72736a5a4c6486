"""Several workers: a line stored by one worker reaches an event stream held by another, through
Redis pub/sub when it is configured and by reading the database when it is not."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from server.live import LiveDesk
from tests.utils.live import live_worker
from tests.utils.redis_server import REDIS_URL, private_redis

SLOW_POLL = 30.0  # with Redis, a wake-up long before this came by pub/sub, not by polling


def _worker(tmp_path: Path, redis_url: str, prefix: str, poll: float) -> LiveDesk:
    return live_worker(tmp_path / "data", redis_url=redis_url, prefix=prefix, poll_seconds=poll)


async def _first_agent_line(first: LiveDesk, second: LiveDesk) -> float:
    """Open on worker 1, follow on worker 1, take and reply on worker 2: seconds until it shows."""
    opened = first.store.open(session_id="web:x", channel="web", transcript=[])
    await first.start()
    await second.start()
    try:
        stream = first.citizen_events(opened.id, opened.token, 0)
        assert (await anext(stream)).startswith("retry:")
        assert "waiting" in await anext(stream)  # the status event
        await asyncio.sleep(0.2)  # the subscriber is listening
        started = time.monotonic()
        await asyncio.to_thread(second.store.take, opened.id, "agent-b")
        await asyncio.to_thread(second.store.reply, opened.id, "agent-b", "您好")
        seen = ""
        while "您好" not in seen:
            seen += await asyncio.wait_for(anext(stream), timeout=SLOW_POLL * 2)
        return time.monotonic() - started
    finally:
        await first.stop()
        await second.stop()


def test_redis_carries_a_change_from_one_worker_to_another(tmp_path: Path) -> None:
    with private_redis() as (_client, prefix):
        first = _worker(tmp_path, REDIS_URL, prefix, SLOW_POLL)
        second = _worker(tmp_path, REDIS_URL, prefix, SLOW_POLL)
        elapsed = asyncio.run(_first_agent_line(first, second))
    assert elapsed < SLOW_POLL  # woken by the other worker's publish, not by the fallback read


def test_without_redis_the_stream_finds_the_change_in_the_database(tmp_path: Path) -> None:
    first = _worker(tmp_path, "", "govbot:", 0.2)
    second = _worker(tmp_path, "", "govbot:", 0.2)
    assert first.bus.wait_seconds == pytest.approx(0.2)
    elapsed = asyncio.run(_first_agent_line(first, second))
    assert elapsed < SLOW_POLL
