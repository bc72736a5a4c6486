"""Wakes every worker's live-chat event streams when the handoff tables change.

The database is the truth (tickets/handoff.py); this only says "look again". With REDIS_URL a
change published by any worker reaches all of them through Redis pub/sub at once; streams still
look at the database every few seconds in case a message was missed. Without Redis, or while it
is down, the streams poll the database every `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from core import degraded

log = logging.getLogger(__name__)
REDIS_SAFETY_FACTOR = 10  # with Redis, the database is still read this many poll periods apart


class ChangeBus:
    def __init__(self, redis_url: str, channel: str, poll_seconds: float) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self.poll_seconds = poll_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Event] = set()
        self._lock = threading.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False
        self._publisher: Any = None
        self.generation = 0  # counts announced changes (changed only in the event loop's thread)

    @property
    def wait_seconds(self) -> float:
        """How long a stream sleeps without news before reading the database anyway."""
        return self.poll_seconds * (REDIS_SAFETY_FACTOR if self._subscribed else 1)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.redis_url and self._listener is None:
            self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._publisher is not None:
            self._publisher.close()

    def publish(self) -> None:
        """A change was committed (callable from any thread): wake this worker's streams, and
        through Redis every other worker's."""
        self._wake_local()
        if not self.redis_url:
            return
        try:
            if self._publisher is None:
                import redis

                self._publisher = redis.Redis.from_url(
                    self.redis_url, socket_timeout=1, socket_connect_timeout=1
                )
            self._publisher.publish(self.channel, b"1")
        except Exception as exc:  # Redis down: other workers find the change by polling
            degraded.report("redis", "handoff", exc)

    def _wake_local(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._bump)

    def _bump(self) -> None:
        self.generation += 1
        with self._lock:
            waiters = list(self._waiters)
        for event in waiters:
            event.set()

    async def wait(self, since: int | None = None, timeout: float | None = None) -> None:
        """Until a change is announced after generation `since` (read before the caller looked at
        the database, so a change in between is not missed), or `timeout` (default:
        `wait_seconds`) passes."""
        if since is not None and self.generation != since:
            return
        event = asyncio.Event()
        with self._lock:
            self._waiters.add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout if timeout is not None else self.wait_seconds)
        finally:
            with self._lock:
                self._waiters.discard(event)

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(self.channel)
                self._subscribed = True
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._wake_local()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect after a pause; streams poll meanwhile
                self._subscribed = False
                degraded.report("redis", "handoff", exc)
                await asyncio.sleep(1.0)
            finally:
                self._subscribed = False
                with contextlib.suppress(Exception):
                    await client.aclose()
