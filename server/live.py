"""The live desk as one worker runs it: the store, the bus that wakes every worker's streams,
delivery of agents' lines to doors that push (WeChat), and the sweep that tells a citizen
nobody has taken their chat yet.

Lines reach citizens in two ways. Doors with a push API get each line through the channel's
`deliver` (WeChat: the durable customer-service outbox). All doors also hand the citizen the
lines not yet shown with the next bot reply (Rasa's REST channel reads them so), and the web
widget follows its conversation's event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

import anyio

from bot.handoff import desk_notices
from bot.responses import Responses
from connectors.base import Channel
from core.settings import Settings
from tickets.handoff import HandoffStore, handoff_calendar
from tickets.handoff_bus import ChangeBus
from tickets.service import TicketDesk

log = logging.getLogger(__name__)
run = anyio.to_thread.run_sync


def sse(event: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class LiveDesk:
    def __init__(self, settings: Settings, desk: TicketDesk, channels: list[Channel]) -> None:
        self.settings = settings.handoff
        self.bus = ChangeBus(
            settings.secrets.redis_url, f"{settings.server.redis_prefix}handoff", self.settings.poll_seconds
        )
        calendar = handoff_calendar(settings.tickets, settings.handoff)
        self.store = HandoffStore(
            desk.db,
            settings.handoff,
            calendar,
            lambda: desk.clock(),
            notify=self.bus.publish,
            notices=desk_notices(Responses.load()),
        )
        self.channels = {channel.name(): channel for channel in channels}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.bus.start()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.bus.stop()

    async def deliver(self, channel: str, session_id: str, text: str, key: str) -> None:
        """Push one line to a door that can push (a no-op for the others)."""
        door = self.channels.get(channel)
        if door is not None and text:
            await door.deliver(session_id, text, key)

    async def sweep_once(self) -> int:
        """Tell every citizen nobody took their chat within the configured time (once each)."""
        found = await run(self.store.overdue)
        notice = self.store.notices["wait"]
        for conversation, channel, session_id in found:
            await self.deliver(channel, session_id, notice, f"handoff:{conversation}:wait")
        return len(found)

    async def _sweep_forever(self) -> None:
        every = max(1.0, min(30.0, self.settings.wait_timeout_minutes * 60 / 10))
        while True:
            try:
                await self.sweep_once()
            except Exception:  # a failed sweep must not end the loop
                log.exception("handoff.sweep.failed")
            await asyncio.sleep(every)

    # --- event streams ----------------------------------------------------------------------
    async def agent_events(self, agent: str) -> AsyncIterator[str]:
        """The inbox, sent again whenever anything changes; the agent's presence kept fresh."""
        ends = time.monotonic() + self.settings.stream_seconds
        beat_at, seen = 0.0, -1
        yield f"retry: {int(self.settings.poll_seconds * 1000) or 500}\n\n"
        while time.monotonic() < ends:
            mark = self.bus.generation
            if time.monotonic() - beat_at >= self.settings.heartbeat_seconds:
                await run(self.store.heartbeat, agent)
                beat_at = time.monotonic()
            last = await run(self.store.last_id)
            if last != seen:
                seen = last
                yield sse("inbox", await run(self.snapshot), last)
            else:
                yield ": idle\n\n"
            await self.bus.wait(mark, min(self.bus.wait_seconds, self.settings.heartbeat_seconds))

    def snapshot(self) -> dict[str, object]:
        found = self.store.availability()
        return {
            "now": self.store.clock().isoformat(),
            "open_now": found.open_now,
            "agents_present": found.agents,
            "last_id": self.store.last_id(),
            "conversations": self.store.inbox(),
        }

    async def citizen_events(self, conversation: int, token: str, after: int) -> AsyncIterator[str]:
        """The agent's lines and the desk's notices of one conversation, from `after` on."""
        ends = time.monotonic() + self.settings.stream_seconds
        status_sent = None
        yield f"retry: {int(self.settings.poll_seconds * 1000) or 500}\n\n"
        while time.monotonic() < ends:
            mark = self.bus.generation
            status, lines = await run(self.store.for_citizen, conversation, token, after)
            for line in lines:
                after = line.id
                yield sse("line", line.as_dict(), line.id)
            if status != status_sent:
                status_sent = status
                yield sse("status", {"status": status})
            if status == "closed":
                return
            await self.bus.wait(mark)
