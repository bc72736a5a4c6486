"""The warm engines as the server uses them: a pool of Assistants per worker process, called
from async code without blocking the event loop.

Each engine answers one message at a time in its own thread (an Assistant keeps SQLite
connections and lazily built parts that are not meant for concurrent threads); several
engines answer side by side. Why several per process: connections are not spread evenly over
the workers (with uvicorn's shared socket, `server.listen: shared`, a burst goes to whichever
worker's event loop wakes first, often all to one; with a socket per worker, the default, by a
hash, unevenly by chance); with one engine per worker a loaded worker answers its share one by
one while another core idles. The encoder, faiss and numpy release the GIL, so engines in one process
can use every core for most of an answer; the Python parts still take turns, and on the
shared development machine one engine per worker measured better (`server.engines`,
docs/benchmarks.md §17). The engines share the retriever, which is read-only
once built; everything else (sessions, knowledge-base connections, caches) is per engine.

The index is kept in step with the shared knowledge base by a background thread: woken by
PostgreSQL NOTIFY (or every `index.sync_poll_seconds`), it builds the caught-up retriever
beside the one in use and gives it to each engine between two of its messages.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import numpy as np
from anyio import CapacityLimiter

from bot.assistant import Assistant
from bot.desk import TicketGateway
from bot.messages import BotReply, UserMessage
from core.db import ChangeListener
from core.runtime import engines_per_worker
from core.settings import Settings
from core.startup import StartupTimer
from index.builder import embed_views
from index.retriever import HybridRetriever
from index.sync import IndexSync, SyncReport
from jobs.operations import ann_params
from knowledge.store import NOTIFY_CHANNEL
from nlu.tokenize import add_user_words

T = TypeVar("T")
log = logging.getLogger(__name__)


class AssistantService:
    def __init__(
        self,
        settings: Settings,
        desk: TicketGateway | None = None,
        *,
        engines: int | None = None,
        make_engine: Callable[[], Assistant] | None = None,
    ) -> None:
        self.settings = settings
        count = engines or engines_per_worker(settings.server)
        make = make_engine or (lambda: Assistant(settings, desk=desk))
        self.engines = [make() for _ in range(count)]
        self.assistant = self.engines[0]  # the primary: administration jobs, readiness, the index sync
        self._locks = [threading.Lock() for _ in self.engines]  # one message at a time per engine
        self._idle: queue.SimpleQueue[int] = queue.SimpleQueue()
        for n in range(count):
            self._idle.put(n)
        self._limiter = CapacityLimiter(count)  # so a thread let in always finds an idle engine
        self._refresh_lock = threading.Lock()  # one catch-up at a time
        self._stopping = threading.Event()
        self._listener: ChangeListener | None = None
        self._thread: threading.Thread | None = None
        self.last_sync: SyncReport | None = None

    async def warm_up(self, startup: StartupTimer | None = None) -> None:
        """Catch the index up with the knowledge base, load models and encoder of every engine
        now, so the first citizens do not wait for them; each step a phase of `startup`."""
        startup = startup or StartupTimer()
        await anyio.to_thread.run_sync(self.bootstrap_index, startup)
        startup.mark("index_bootstrap")
        for n in range(len(self.engines)):
            message = UserMessage(text="居住证怎么办", session_id=f"__warmup_{n}__", channel="warmup")
            await anyio.to_thread.run_sync(self._on, n, partial(_handle, message=message))
        startup.mark("warm_up_question")

    def _on(self, n: int, job: Callable[[Assistant], T]) -> T:
        with self._locks[n]:
            return job(self.engines[n])

    def call(self, job: Callable[[Assistant], T]) -> T:
        """Run `job` on the primary engine, between two of its messages."""
        return self._on(0, job)

    async def run(self, job: Callable[[Assistant], T]) -> T:
        """Run `job(assistant)` on the primary engine in a worker thread (administration,
        parsing for the desk: one place where the knowledge base is changed and reloaded)."""
        return await anyio.to_thread.run_sync(self.call, job)

    def _answer(self, message: UserMessage) -> BotReply:
        n = self._idle.get()  # never waits: the limiter lets in at most one thread per engine
        try:
            return self._on(n, partial(_handle, message=message))
        finally:
            self._idle.put(n)

    async def handle(self, message: UserMessage) -> BotReply:
        """Answer on whichever engine is idle (the message waits for one when all are busy)."""
        return await anyio.to_thread.run_sync(self._answer, message, limiter=self._limiter)

    def _share(self, retriever: HybridRetriever) -> None:
        """Every engine answers from `retriever` from its next message on."""
        for n, engine in enumerate(self.engines):
            if vars(engine).get("retriever") is not retriever:  # read without loading one from disk
                self._on(n, lambda a: a.use_retriever(retriever))

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
            self._share(retriever)
            self.last_sync = report
            return report

    def refresh_index(self) -> SyncReport | None:
        """Apply what changed since the served index's version; None when it was current.

        The primary's retriever is the reference: a job that rebuilt and reloaded it (a
        promoted FAQ) is passed on to the other engines here too."""
        with self._refresh_lock:
            current = self.call(lambda a: a.retriever)
            result = self._sync().refresh(current)
            if result is None:
                self._share(current)
                return None
            retriever, report = result
            self._share(retriever)
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
        for engine in self.engines:
            engine.close()


def _handle(assistant: Assistant, message: UserMessage) -> BotReply:
    return assistant.handle(message)
