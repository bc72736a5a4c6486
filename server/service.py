"""The warm engine as the server uses it: one Assistant per worker process, called from
async code without blocking the event loop, one message at a time (the engine keeps
SQLite connections and lazily built parts that are not meant for concurrent threads).

The index is kept in step with the shared knowledge base by a background thread: woken by
PostgreSQL NOTIFY (or every `index.sync_poll_seconds`), it builds the caught-up retriever
beside the one in use and swaps it in under the lock, which answering holds only per message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import numpy as np
from anyio import CapacityLimiter

from bot.assistant import Assistant
from bot.desk import TicketGateway
from bot.messages import BotReply, UserMessage
from core.db import ChangeListener
from core.settings import Settings
from core.startup import StartupTimer
from index.builder import embed_views
from index.sync import IndexSync, SyncReport
from jobs.operations import ann_params
from knowledge.store import NOTIFY_CHANNEL
from nlu.tokenize import add_user_words

T = TypeVar("T")
log = logging.getLogger(__name__)


class AssistantService:
    def __init__(self, settings: Settings, desk: TicketGateway | None = None) -> None:
        self.settings = settings
        self.assistant = Assistant(settings, desk=desk)
        self._lock = threading.Lock()
        self._limiter = CapacityLimiter(1)
        self._refresh_lock = threading.Lock()  # one catch-up at a time
        self._stopping = threading.Event()
        self._listener: ChangeListener | None = None
        self._thread: threading.Thread | None = None
        self.last_sync: SyncReport | None = None

    async def warm_up(self, startup: StartupTimer | None = None) -> None:
        """Catch the index up with the knowledge base, load models and encoder now, so the
        first citizen does not wait for them; each step a phase of `startup`."""
        startup = startup or StartupTimer()
        await anyio.to_thread.run_sync(self.bootstrap_index, startup)
        startup.mark("index_bootstrap")
        await self.handle(UserMessage(text="居住证怎么办", session_id="__warmup__", channel="warmup"))
        startup.mark("warm_up_question")

    def call(self, job: Callable[[Assistant], T]) -> T:
        with self._lock:
            return job(self.assistant)

    async def run(self, job: Callable[[Assistant], T]) -> T:
        """Run `job(assistant)` in a worker thread, serialised per process."""
        return await anyio.to_thread.run_sync(self.call, job, limiter=self._limiter)

    async def handle(self, message: UserMessage) -> BotReply:
        return await self.run(lambda a: a.handle(message))

    # --- the index in step with the knowledge base ---------------------------------------
    def _embed(self, views: list[list[str]]) -> np.ndarray:
        """Only items without a stored vector get here; one short batch under the lock."""
        return self.call(lambda a: embed_views(a.resources.encoder, views))

    def _sync(self) -> IndexSync:
        encoder = self.call(lambda a: a.resources.encoder)
        return IndexSync(
            self.assistant.kb,
            encoder_name=encoder.name,
            dim=encoder.dim,
            embed=self._embed,
            index_settings=self.settings.index,
            ann_params=ann_params(self.settings),
        )

    def bootstrap_index(self, startup: StartupTimer | None = None) -> SyncReport:
        """The local index caught up, or built from the stored vectors (empty data directory)."""
        startup = startup or StartupTimer()
        with self._refresh_lock:
            with startup.block("jieba_user_words"):
                add_user_words(self.call(lambda a: list(a.resources.domain_words())))
            with startup.block("encoder_load"):  # its name and size key the stored vectors
                self.call(lambda a: a.resources.encoder)
            with startup.block("index_sync"):
                retriever, report = self._sync().bootstrap(self.settings.index_dir)
            self.call(lambda a: a.use_retriever(retriever))
            self.last_sync = report
            return report

    def refresh_index(self) -> SyncReport | None:
        """Apply what changed since the served index's version; None when it was current."""
        with self._refresh_lock:
            current = self.call(lambda a: a.retriever)
            result = self._sync().refresh(current)
            if result is None:
                return None
            retriever, report = result
            self.call(lambda a: a.use_retriever(retriever))
            self.last_sync = report
            return report

    def start_refresher(self) -> None:
        every = self.settings.index.sync_poll_seconds
        if every <= 0 or self._thread is not None:
            return
        self._listener = ChangeListener(self.assistant.kb.db, NOTIFY_CHANNEL)
        listener = self._listener

        def loop() -> None:
            while not self._stopping.is_set():
                listener.wait(every)
                if self._stopping.is_set():
                    break
                try:
                    self.refresh_index()
                except Exception:  # logged; the served index stays as it was and the next wake retries
                    log.exception("index.sync.failed")
            listener.close_connection()

        self._thread = threading.Thread(target=loop, name="index-sync", daemon=True)
        self._thread.start()

    def stop_refresher(self) -> None:
        if self._thread is None or self._listener is None:
            return
        self._stopping.set()
        self._listener.stop()
        self._thread.join(timeout=self.settings.index.sync_poll_seconds + 2)
        self._thread = None

    def readiness(self) -> dict[str, Any]:
        """What is loaded; `ready` is true when a question can be answered; the index's
        knowledge-base version and whether it is current."""
        assistant = self.assistant
        checks: dict[str, Any] = {"kb_items": assistant.kb.count()}
        try:
            checks["index_records"] = len(assistant.retriever)
            checks["pipeline"] = [stage.get("name") for stage in assistant.pipeline.describe()]
            kb_version = assistant.kb.version()
            index_version = assistant.retriever.manifest.get("kb_version")
            checks["kb_version"] = kb_version
            checks["index_version"] = index_version
            checks["index_current"] = index_version == kb_version
            if self.last_sync is not None:
                checks["last_sync"] = {
                    "path": self.last_sync.path,
                    "reason": self.last_sync.reason,
                    "changed": self.last_sync.changed,
                    "removed": self.last_sync.removed,
                    "embedded": self.last_sync.embedded,
                    "tokenised": self.last_sync.tokenised,
                    "seconds": self.last_sync.seconds,
                }
        except Exception as exc:  # reported, not raised: readiness must answer
            checks["error"] = str(exc)
        checks["ready"] = bool(checks["kb_items"]) and "error" not in checks
        return checks

    def close(self) -> None:
        self.stop_refresher()
        self.assistant.close()
