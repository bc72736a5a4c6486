"""The warm engine as the server uses it: one Assistant per worker process, called from
async code without blocking the event loop, one message at a time (the engine keeps
SQLite connections and lazily built parts that are not meant for concurrent threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio import CapacityLimiter

from bot.assistant import Assistant
from bot.desk import TicketGateway
from bot.messages import BotReply, UserMessage
from core.settings import Settings

T = TypeVar("T")


class AssistantService:
    def __init__(self, settings: Settings, desk: TicketGateway | None = None) -> None:
        self.settings = settings
        self.assistant = Assistant(settings, desk=desk)
        self._lock = threading.Lock()
        self._limiter = CapacityLimiter(1)

    async def warm_up(self) -> None:
        """Load models, index and encoder now, so the first citizen does not wait for them."""
        await self.handle(UserMessage(text="居住证怎么办", session_id="__warmup__", channel="warmup"))

    def call(self, job: Callable[[Assistant], T]) -> T:
        with self._lock:
            return job(self.assistant)

    async def run(self, job: Callable[[Assistant], T]) -> T:
        """Run `job(assistant)` in a worker thread, serialised per process."""
        return await anyio.to_thread.run_sync(self.call, job, limiter=self._limiter)

    async def handle(self, message: UserMessage) -> BotReply:
        return await self.run(lambda a: a.handle(message))

    def readiness(self) -> dict[str, Any]:
        """What is loaded; `ready` is true when a question can be answered."""
        assistant = self.assistant
        checks: dict[str, Any] = {"kb_items": assistant.kb.count()}
        try:
            checks["index_records"] = len(assistant.retriever)
            checks["pipeline"] = [stage.get("name") for stage in assistant.pipeline.describe()]
        except Exception as exc:  # reported, not raised: readiness must answer
            checks["error"] = str(exc)
        checks["ready"] = bool(checks["kb_items"]) and "error" not in checks
        return checks

    def close(self) -> None:
        self.assistant.close()
