"""The engine pool of one worker (server/service.py), with engines that answer when the test says.

Messages are answered side by side, one per engine at a time, never more at once than there are
engines; administration jobs run on the primary engine. No timing: every wait is on an event.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import anyio

from bot.assistant import Assistant
from bot.messages import BotReply, UserMessage
from core.settings import Settings
from server.service import AssistantService

WAIT = 30.0  # a safety net for a broken pool, never reached when it works


class Board:
    """What the gated engines report: who runs what, and the gates the test opens."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.running: dict[str, int] = {}  # message text -> engine number
        self.finished: list[str] = []
        self.most_at_once = 0
        self.overlaps = 0  # an engine given a message while it was answering another
        self.gates: dict[str, threading.Event] = {}

    def gate(self, text: str) -> threading.Event:
        with self.changed:
            return self.gates.setdefault(text, threading.Event())

    def wait_running(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.running) >= count, timeout=WAIT)


class GatedEngine:
    """Stands in for an Assistant: `handle` blocks its thread until the message's gate opens."""

    def __init__(self, board: Board, number: int) -> None:
        self.board, self.number, self.busy = board, number, False

    def handle(self, message: UserMessage) -> BotReply:
        board = self.board
        with board.changed:
            board.overlaps += self.busy
            self.busy = True
            board.running[message.text] = self.number
            board.most_at_once = max(board.most_at_once, len(board.running))
            board.changed.notify_all()
        board.gate(message.text).wait(WAIT)
        with board.changed:
            del board.running[message.text]
            board.finished.append(message.text)
            self.busy = False
            board.changed.notify_all()
        return BotReply(action="answer", intent="ask_service", reply=f"答复：{message.text}")

    def close(self) -> None:
        pass


def pool(engines: int) -> tuple[AssistantService, Board]:
    board = Board()
    numbers = iter(range(engines))
    service = AssistantService(
        Settings(),
        engines=engines,
        make_engine=lambda: cast(Assistant, GatedEngine(board, next(numbers))),
    )
    return service, board


def message(text: str) -> UserMessage:
    return UserMessage(text=text, session_id=f"s-{text}", channel="web")


def test_a_second_message_does_not_wait_for_the_first() -> None:
    service, board = pool(2)

    async def scenario() -> None:
        first = asyncio.create_task(service.handle(message("一")))
        second = asyncio.create_task(service.handle(message("二")))
        assert await anyio.to_thread.run_sync(board.wait_running, 2)
        assert sorted(board.running.values()) == [0, 1]  # one engine each
        board.gate("二").set()
        assert (await second).reply == "答复：二"
        assert not first.done()
        board.gate("一").set()
        assert (await first).reply == "答复：一"

    asyncio.run(scenario())


def test_never_more_at_once_than_engines_and_one_message_per_engine() -> None:
    service, board = pool(2)
    texts = ["一", "二", "三", "四", "五"]

    async def scenario() -> list[BotReply]:
        tasks = [asyncio.create_task(service.handle(message(t))) for t in texts]
        for done in range(len(texts)):
            assert await anyio.to_thread.run_sync(board.wait_running, min(2, len(texts) - done))
            with board.changed:
                assert len(board.running) == min(2, len(texts) - done)  # the others wait for an engine
                oldest = next(iter(board.running))
            board.gate(oldest).set()
            await anyio.to_thread.run_sync(_wait_finished, board, done + 1)
        return list(await asyncio.gather(*tasks))

    replies = asyncio.run(scenario())
    assert [r.reply for r in replies] == [f"答复：{t}" for t in texts]
    assert board.most_at_once == 2
    assert board.overlaps == 0


def test_one_engine_answers_one_message_at_a_time() -> None:
    service, board = pool(1)

    async def scenario() -> None:
        tasks = [asyncio.create_task(service.handle(message(t))) for t in ("一", "二")]
        assert await anyio.to_thread.run_sync(board.wait_running, 1)
        with board.changed:
            [waiting_one] = board.running
        board.gate(waiting_one).set()
        assert await anyio.to_thread.run_sync(_wait_finished, board, 1)
        board.gate("二" if waiting_one == "一" else "一").set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert board.most_at_once == 1


def test_administration_jobs_run_on_the_primary_engine() -> None:
    service, _board = pool(3)
    seen: Counter[int] = Counter()

    def job(engine: Any) -> int:
        seen[engine.number] += 1
        return int(engine.number)

    async def scenario() -> list[int]:
        return [await service.run(job) for _ in range(4)]

    assert asyncio.run(scenario()) == [0, 0, 0, 0]
    assert service.assistant is service.engines[0]
    assert len(service.engines) == 3


def _wait_finished(board: Board, count: int) -> bool:
    with board.changed:
        return board.changed.wait_for(lambda: len(board.finished) >= count, timeout=WAIT)


def test_two_real_engines_answer_side_by_side_from_one_retriever(
    copy_prepared: Callable[[], Path],
) -> None:
    """The pool with real Assistants: each engine answers as a single engine would, and after
    the index bootstrap every engine serves the one shared retriever."""
    from tests.server.conftest import server_settings

    settings = server_settings(copy_prepared())
    texts = ["补办身份证需要什么材料", "居住证怎么办"]
    alone = AssistantService(settings, engines=1)
    try:
        alone.bootstrap_index()
        expected = [
            (r.action, [s.id for s in r.sources]) for r in (alone.assistant.handle(message(t)) for t in texts)
        ]
    finally:
        alone.close()

    service = AssistantService(settings, engines=2)
    try:
        service.bootstrap_index()
        shared = service.assistant.retriever
        assert all(vars(engine).get("retriever") is shared for engine in service.engines)

        async def both() -> list[BotReply]:
            replies: dict[str, BotReply] = {}

            async def one(text: str) -> None:
                replies[text] = await service.handle(message(text))

            async with anyio.create_task_group() as group:
                for text in texts:
                    group.start_soon(one, text)
            return [replies[t] for t in texts]

        got = [(r.action, [s.id for s in r.sources]) for r in anyio.run(both)]
        assert got == expected and all(sources for _, sources in got)  # both went through retrieval
    finally:
        service.close()
