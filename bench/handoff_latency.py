"""Live chat across workers: how long an agent's line takes to reach a citizen's event stream
held by another worker, with Redis pub/sub and with database polling only.

What it does, for each mode:

  1. two workers (two `server.live.LiveDesk`, each with its own engine and bus) over one fresh
     SQLite ticket database under var/bench/handoff (PostgreSQL with --pg-url);
  2. a conversation opened and taken; worker 1 follows the citizen's event stream
     (`/api/v1/handoff/{id}/events` runs the same generator);
  3. --replies times: worker 2 stores an agent's line (what `POST .../reply` runs) and the time
     until worker 1's stream yields it is recorded, in ms.

Modes: `redis` (REDIS_URL, the default 0.5 s poll only as a safety net, 10x longer) and
`polling` (no Redis: streams read the database every `handoff.poll_seconds`). The goal: under a
second at p95 in both. Run::

    .venv/bin/python bench/handoff_latency.py --out bench/results/handoff_latency.json
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from typing import Any

from _common import (
    BENCH_VAR,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    write_json,
)

from server.live import LiveDesk
from tests.utils.live import live_worker


async def _measure(first: LiveDesk, second: LiveDesk, replies: int) -> list[float]:
    opened = first.store.open(session_id="web:bench", channel="web", transcript=[])
    await first.start()
    await second.start()
    try:
        await asyncio.sleep(0.3)  # subscribers listening
        await asyncio.to_thread(second.store.take, opened.id, "bench-agent")
        stream = first.citizen_events(opened.id, opened.token, 0)
        times: list[float] = []
        pending: dict[str, float] = {}

        async def read() -> None:
            async for event in stream:
                for text, started in list(pending.items()):
                    if text in event:
                        times.append((time.perf_counter() - started) * 1000)
                        del pending[text]
                if len(times) == replies:
                    return

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.3)
        for n in range(replies):
            text = f"line-{n}-{uuid.uuid4().hex[:6]}"
            pending[text] = time.perf_counter()
            await asyncio.to_thread(second.store.reply, opened.id, "bench-agent", text)
            while text in pending:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
        await reader
        return times
    finally:
        await first.stop()
        await second.stop()


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pg-url", default="", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    env = environment()
    results: dict[str, Any] = {"env": env, "modes": {}}
    rows = []
    for mode in ("redis", "polling"):
        folder = BENCH_VAR / "handoff"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        url = args.pg_url or f"sqlite:///{folder / 'tickets.sqlite'}"
        redis_url = args.redis_url if mode == "redis" else ""
        prefix = f"govbot-bench-{uuid.uuid4().hex[:8]}:"
        first, second = (
            live_worker(folder, database_url=url, redis_url=redis_url, prefix=prefix, stream_seconds=3600)
            for _ in range(2)
        )
        times = asyncio.run(_measure(first, second, args.replies))
        summary = latency_summary(times)
        results["modes"][mode] = summary
        poll = first.settings.poll_seconds * (10 if mode == "redis" else 1)
        rows.append(
            [mode, f"{poll:.1f}", summary["n"], summary["p50_ms"], summary["p95_ms"], summary["max_ms"]]
        )
    print(header("13. Live chat: an agent's line to a citizen's stream on another worker", env))
    headers = ["mode", "database read every (s)", "lines", "p50 ms", "p95 ms", "max ms"]
    print(markdown_table(headers, rows))
    write_json(args.out, results)


if __name__ == "__main__":
    main()
