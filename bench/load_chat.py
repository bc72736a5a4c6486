"""Load test of the chat API: `govbot serve --workers N` driven by concurrent asyncio clients.

What it measures: answers per second and latency (p50/p95/p99, client side, whole
HTTP round trip) of `POST /api/v1/chat` at several levels of concurrency (default
1, 8 and 32 clients), with the error count per level. Every client is a citizen with
its own session id, sending one question after another without pause, the questions
cycling through ../shared/eval/dev_gd_questions.tsv and bench/data/colloquial_gd.tsv.
A level ends after --requests requests or --seconds seconds, whichever comes first.

The server is started here as a subprocess: `govbot serve --workers 2` with REDIS_URL
set (sessions and rate limits shared by the workers, under a key prefix of this run,
deleted afterwards) over the Guangdong-catalog data directory (default
var/bench/retrieval, prepared as bench/retrieval_compare.py does when it is missing
or stale). It gets a temporary config.yml with the per-address and per-session rate
limits raised, since all clients come from one address and send more than a citizen.

Goal reported against: at 32 clients and 2 workers, >= 100 answers/s with p95 <= 150 ms
and no errors. Examples::

    .venv/bin/python bench/load_chat.py --requests 100          # a quick check
    .venv/bin/python bench/load_chat.py --out bench/results/load_chat.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import (
    COLLOQUIAL,
    DEV_QUESTIONS,
    REPO_ROOT,
    data_dir_for,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    percentile,
    require_shared,
    write_json,
)

GOAL = {"clients": 32, "answers_per_s": 100.0, "p95_ms": 150.0, "errors": 0}
RAISED_LIMIT = 10_000_000  # per minute: the run must measure the server, not the limiter


def read_questions() -> list[str]:
    from bot.evaluation import read_eval_tsv

    questions = [row.question for path in (DEV_QUESTIONS, COLLOQUIAL) for row in read_eval_tsv(path)]
    if not questions:
        raise SystemExit("error: no questions found in the question files")
    return questions


def write_config(directory: Path, prefix: str) -> Path:
    """config.yml with the rate limits raised and this run's Redis key prefix."""
    import yaml

    from core.settings import DEFAULT_CONFIG

    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config["server"].update(rate_per_ip=RAISED_LIMIT, rate_per_session=RAISED_LIMIT, redis_prefix=prefix)
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def ensure_prepared(data_dir: Path) -> dict[str, Any]:
    """The catalog data directory, brought up to date the way retrieval_compare.py does it."""
    from retrieval_compare import prepare

    assistant, info = prepare(data_dir, None, retrain=False)
    assistant.close()
    return info


def redis_reachable(url: str) -> str:
    """'' when Redis answers PING, otherwise why not."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        return str(exc)
    return ""


def delete_keys(url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


@contextmanager
def running_server(args: argparse.Namespace, config: Path, log_path: Path) -> Iterator[tuple[str, int]]:
    """`govbot serve` in its own process group; yields the base URL and the group's id (the
    server's pid) once /readyz says ready. The server runs this checkout's code (PYTHONPATH)."""
    import httpx

    env = {
        **os.environ,
        "REDIS_URL": args.redis_url,
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONPATH": str(REPO_ROOT),
    }
    env.pop("GOVBOT_DATA_DIR", None)
    govbot = Path(sys.executable).with_name("govbot")
    command = [
        str(govbot) if govbot.is_file() else "govbot",
        "--data-dir",
        str(args.data_dir),
        "--config",
        str(config),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{args.port}"
    try:
        deadline = time.monotonic() + args.start_timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"error: the server exited ({process.returncode}); see {log_path}")
            if time.monotonic() > deadline:
                raise SystemExit(f"error: /readyz not ready after {args.start_timeout} s; see {log_path}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url, process.pid
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def run_level(
    url: str, questions: list[str], clients: int, requests: int, seconds: float
) -> dict[str, Any]:
    """`clients` sessions sending back to back until `requests` are sent or `seconds` have passed."""
    import httpx

    cycle = itertools.cycle(questions)
    budget = iter(range(requests))
    latencies: list[float] = []
    engine: list[float] = []  # the reply's latency_ms: time inside Assistant.handle
    errors: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        session_id = f"load-{uuid.uuid4().hex}"
        while time.perf_counter() < deadline and next(budget, None) is not None:
            body = {"session_id": session_id, "text": next(cycle)}
            started = time.perf_counter()
            try:
                response = await http.post("/api/v1/chat", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] += 1
                    continue
                reply = response.json()
                if not reply.get("reply"):
                    errors["empty reply"] += 1
                    continue
            except (httpx.HTTPError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(elapsed)
            engine.append(float(reply.get("latency_ms") or 0.0))
            actions[str(reply.get("action"))] += 1

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        duration = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies) + sum(errors.values()),
        "answers": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "duration_s": round(duration, 2),
        "answers_per_s": round(len(latencies) / duration, 1) if duration else 0.0,
        **latency_summary(latencies),
        "engine_p50_ms": latency_summary(engine)["p50_ms"],
        "overhead_p50_ms": round(percentile([a - b for a, b in zip(latencies, engine, strict=True)], 50), 2),
        "actions": dict(actions),
    }


def verdict(levels: list[dict[str, Any]], workers: int) -> str:
    level = next((x for x in levels if x["clients"] == GOAL["clients"]), None)
    if level is None:
        return f"goal not checked: no level with {GOAL['clients']} clients"
    met = (
        level["answers_per_s"] >= GOAL["answers_per_s"]
        and level["p95_ms"] <= GOAL["p95_ms"]
        and level["errors"] == GOAL["errors"]
    )
    return (
        f"goal ({GOAL['clients']} clients, {workers} workers: >= {GOAL['answers_per_s']:.0f} answers/s, "
        f"p95 <= {GOAL['p95_ms']:.0f} ms, no errors): {'met' if met else 'NOT met'} — "
        f"{level['answers_per_s']} answers/s, p95 {level['p95_ms']} ms, {level['errors']} errors"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = docstring_parser(__doc__)
    parser.add_argument(
        "--data-dir",
        help="prepared data directory to serve (default: var/bench/retrieval, the Guangdong catalog; "
        "imported, indexed and trained first when missing or stale)",
    )
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients per level (default 1,8,32)")
    parser.add_argument("--requests", type=int, default=2000, help="most requests per level (default 2000)")
    parser.add_argument("--seconds", type=float, default=60.0, help="most seconds per level (default 60)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before the levels")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--port", type=int, default=8765, help="port for the server (default 8765)")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/0", help="Redis shared by the workers (REDIS_URL)"
    )
    parser.add_argument("--start-timeout", type=float, default=600.0, help="seconds to wait for /readyz")
    parser.add_argument("--skip-prepare", action="store_true", help="serve --data-dir as it is")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    args.data_dir = data_dir_for(args.data_dir, "retrieval")
    args.levels = [int(x) for x in str(args.levels).split(",") if x.strip()]
    if not args.levels or min(args.levels) < 1 or args.requests < 1 or args.seconds <= 0:
        parser.error("levels, --requests and --seconds must be positive")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    require_shared(DEV_QUESTIONS)
    env = environment()
    why = redis_reachable(args.redis_url)
    if why:
        raise SystemExit(f"error: Redis at {args.redis_url} is not reachable ({why}); the workers share it")
    prepared = {"skipped": True} if args.skip_prepare else ensure_prepared(args.data_dir)
    questions = read_questions()
    prefix = f"govbot-bench-{uuid.uuid4().hex[:8]}:"
    levels: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="govbot-load-") as tmp:
        config = write_config(Path(tmp), prefix)
        log_path = Path(tmp) / "server.log"
        try:
            with running_server(args, config, log_path) as (url, _pid):
                if args.warmup:
                    asyncio.run(run_level(url, questions, min(4, args.warmup), args.warmup, 120))
                for clients in args.levels:
                    level = asyncio.run(run_level(url, questions, clients, args.requests, args.seconds))
                    levels.append(level)
                    print(
                        f"{clients} clients: {level['answers_per_s']} answers/s, p95 {level['p95_ms']} ms, "
                        f"{level['errors']} errors",
                        file=sys.stderr,
                    )
        finally:
            delete_keys(args.redis_url, prefix)
    rows = [
        (
            x["clients"],
            x["answers"],
            x["errors"],
            f"{x['answers_per_s']:.1f}",
            *(f"{x[k]:.0f}" for k in ("p50_ms", "p95_ms", "p99_ms", "engine_p50_ms")),
        )
        for x in levels
    ]
    print(header("Chat API load test", env))
    print(
        f"`govbot serve --workers {args.workers}` over {args.data_dir} ({len(questions)} questions cycled), "
        f"REDIS_URL set; at most {args.requests} requests or {args.seconds:.0f} s per level.\n"
    )
    columns = ["clients", "answers", "errors", "answers/s", "p50 ms", "p95 ms", "p99 ms", "engine p50 ms"]
    print(markdown_table(columns, rows))
    print(
        "\nengine p50: the reply's latency_ms (inside Assistant.handle, excluding the wait for the "
        "worker's one engine thread); the rest is queueing, HTTP, Redis and JSON."
    )
    line = verdict(levels, args.workers)
    print(f"\n{line}")
    write_json(
        args.out,
        {
            "environment": env,
            "workers": args.workers,
            "data_dir": str(args.data_dir),
            "prepared": prepared,
            "questions": len(questions),
            "limits": {"requests_per_level": args.requests, "seconds_per_level": args.seconds},
            "levels": levels,
            "goal": GOAL,
            "verdict": line,
        },
    )


if __name__ == "__main__":
    main()
