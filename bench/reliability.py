"""Reliability probes of issue 11 against a real server: brute force, fuzz, Redis outage, kill -9.

What it does, against `uvicorn server.app:create_app` started here as a subprocess over a
prepared data directory (default var/bench/reliability: the bundled sample knowledge base,
prepared with cli.main.prepare_all when missing), tickets in SQLite under it, sessions and
limits in a private redis-server this script starts on --redis-port (the shared Redis on
6379 is never touched):

  brute     one ticket is filed; then --guesses wrong-or-right last-4 guesses at it through
            the chat (a new session per guess) and --guesses through the status API (a new
            X-Forwarded-For per guess, which an untrusted peer cannot use). The per-address and
            per-session limits are raised in the run's config, so only the lockout stands in
            the way. Reported: tries, how many revealed the ticket (must be 0).
  fuzz      --fuzz-cases bodies per JSON operation of /openapi.json, generated from the schema
            with a fixed seed: wrong types, nulls, NaN / 1e999 (raw JSON), lone surrogates, NUL,
            huge strings and numbers. Reported: cases, 5xx answers (must be 0).
  redis     the private Redis is stopped for a few seconds while chat messages keep coming,
            then started again. Reported: messages, non-200 answers (must be 0), /readyz.
  kill9     --citizens chat forms are filled up to 确认提交; all confirm at once and the
            server is killed with SIGKILL while they do; it is started again and every citizen
            whose confirm got no answer confirms again. Reported: citizens, tickets stored,
            duplicates, and citizens with a stored ticket who never got its number (must be 0).
  schemathesis  only with --schemathesis PATH (the `st` command of a separate venv: it is not a
            dependency of govbot or its tests, e.g. `python3.11 -m venv /tmp/st && /tmp/st/bin/pip
            install schemathesis`): `st run /openapi.json` with the not_a_server_error check,
            --st-examples cases per operation, as an agent. Reported: its exit code and summary.

--only NAME[,NAME] runs some of the probes (brute, fuzz, redis, kill9, schemathesis).

Run::

    .venv/bin/python bench/reliability.py --out bench/results/reliability.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sqlite3
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

from _common import BENCH_VAR, REPO_ROOT, docstring_parser, environment, header, markdown_table, write_json

from core import crypto

AGENT_TOKEN = "bench-agent-token-0123456789"
ADMIN_TOKEN = "bench-admin-token-0123456789"
NUMBER = re.compile(r"\d{8}-\d{4}")
COMPLAINT = "小区门口的路灯坏了一个多月，晚上漆黑一片，老人摔倒过好几次"


def ensure_prepared(data_dir: Path) -> None:
    if (data_dir / "index").exists():
        return
    from bot.assistant import Assistant
    from cli.main import prepare_all
    from core.settings import load_settings

    data_dir.mkdir(parents=True, exist_ok=True)
    assistant = Assistant(load_settings(None, data_dir))
    try:
        prepare_all(assistant, quiet=True)
    finally:
        assistant.close()


class Redis:
    """A private redis-server (nothing on disk) that the run may stop and start."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class Server:
    def __init__(self, data_dir: Path, config: Path, port: int, redis_port: int, log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.env = {
            **os.environ,
            "GOVBOT_DATA_DIR": str(data_dir),
            "GOVBOT_CONFIG": str(config),
            "GOVBOT_API_TOKENS": f"{AGENT_TOKEN}:agent,{ADMIN_TOKEN}:admin",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DATABASE_URL": "",
            "PYTHONPATH": str(REPO_ROOT),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 300) -> None:
        import httpx

        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "server.app:create_app",
            "--factory",
            "--port",
            str(self.port),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"error: the server exited; see {self.log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"error: not ready after {timeout} s; see {self.log}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait()
        self.process = None


@contextmanager
def served(args: argparse.Namespace, data_dir: Path) -> Iterator[tuple[Server, Redis]]:
    work = Path(tempfile.mkdtemp(prefix="reliability-", dir=BENCH_VAR))
    config_text = (REPO_ROOT / "config.yml").read_text(encoding="utf-8")
    config_text = re.sub(r"(?m)^(  rate_per_(?:ip|session):).*$", r"\1 10000000", config_text)
    config_text = re.sub(r"(?m)^(  status_rate_per_ip:).*$", r"\1 10000000", config_text)
    config = work / "config.yml"
    config.write_text(config_text, encoding="utf-8")
    redis = Redis(args.redis_port)
    redis.start()
    server = Server(data_dir, config, args.port, args.redis_port, work / "server.log")
    try:
        server.start()
        yield server, redis
    finally:
        server.kill(signal.SIGTERM)
        redis.stop()


# --- probes -------------------------------------------------------------------------------


async def _chat(client: Any, url: str, session: str, text: str) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        f"{url}/api/v1/chat", json={"session_id": session, "text": text, "channel": "web"}
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


async def _bounded(jobs: list[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def brute(server: Server, guesses: int, concurrency: int) -> dict[str, Any]:
    import httpx

    auth = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"title": "路灯坏了", "content": COMPLAINT, "phone": "13912344321", "category": "城乡建设"}
        number = (await client.post(f"{server.url}/api/v1/tickets", json=body, headers=auth)).json()[
            "ticket_no"
        ]
        order = [f"{n:04d}" for n in range(10_000) if n != 4321][: guesses - 1]
        order.insert(len(order) // 2, "4321")  # the right answer comes after the lockout
        chat = await _bounded(
            [_chat(client, server.url, uuid.uuid4().hex, f"查询工单{number} 手机尾号{g}") for g in order],
            concurrency,
        )

        async def api(n: int, guess: str) -> int:
            headers = {"X-Forwarded-For": f"198.51.{n // 250 % 250}.{n % 250}"}
            payload = {"ticket_no": number, "phone_last4": guess}
            return (
                await client.post(f"{server.url}/api/v1/tickets/status", json=payload, headers=headers)
            ).status_code

        codes = await _bounded([api(n, g) for n, g in enumerate(order)], concurrency)
    return {
        "chat": {
            "tries": len(order),
            "found": sum(1 for _, b in chat if b.get("ticket")),
            "errors": sum(1 for c, _ in chat if c >= 500),
        },
        "api": {
            "tries": len(order),
            "found": codes.count(200),
            "locked_429": codes.count(429),
            "errors": sum(c >= 500 for c in codes),
        },
    }


_NASTY: list[Any] = [
    None,
    "",
    "\ud800",
    "a\x00b",
    "x" * 70_000,
    -1,
    0,
    10**30,
    1.5,
    True,
    [],
    {},
    "' OR '1'='1",
    "２０２６",
]


def _value(schema: dict[str, Any], spec: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if rng.random() < 0.3 or depth > 3:
        return rng.choice(_NASTY)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return _value(rng.choice(options), spec, rng, depth + 1)
    kind = schema.get("type")
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _value(v, spec, rng, depth + 1) for k, v in props.items() if rng.random() < 0.8}
    if kind == "array":
        return [_value(schema.get("items", {}), spec, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "integer":
        return rng.choice([0, -5, 7, 2**63, schema.get("maximum", 100)])
    if kind == "number":
        return rng.choice([0.0, -1e308, 3.14])
    if kind == "boolean":
        return rng.random() < 0.5
    return rng.choice(
        ["居住证怎么办", "13812345678", "20261201-0001", "城乡建设", "web", "已受理", "x" * 300]
    )


def _raw_bodies(body: Any) -> list[bytes]:
    text = json.dumps(body, ensure_ascii=True)
    raw = [text.encode()]
    if isinstance(body, dict) and body:
        key = next(iter(body))
        raw.append(json.dumps({**body, key: 0}).replace(": 0", ": NaN", 1).encode())
        raw.append(json.dumps({**body, key: 0}).replace(": 0", ": 1e999", 1).encode())
    return raw


async def fuzz(server: Server, cases: int, seed: int) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {AGENT_TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=60) as client:
        spec = (await client.get(f"{server.url}/openapi.json")).json()
        tried, failures = 0, []
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
                for _ in range(cases):
                    concrete = re.sub(
                        r"\{[^}]+\}", lambda _m: rng.choice(["20261201-0001", "x", "%00", "9" * 40]), path
                    )
                    body = _value(content["schema"], spec, rng) if content else None
                    for raw in _raw_bodies(body) if content else [b""]:
                        response = await client.request(
                            method.upper(), f"{server.url}{concrete}", content=raw, headers=auth
                        )
                        tried += 1
                        if response.status_code >= 500:
                            failures.append(
                                {
                                    "method": method,
                                    "path": concrete,
                                    "status": response.status_code,
                                    "body": raw[:200].decode("latin-1"),
                                }
                            )
    return {"cases": tried, "server_errors": len(failures), "examples": failures[:5]}


async def redis_outage(server: Server, redis: Redis, messages: int) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        session = uuid.uuid4().hex
        redis.stop()
        down = [await _chat(client, server.url, session, "居住证怎么办") for _ in range(messages)]
        ready_down = (await client.get(f"{server.url}/readyz")).json().get("dependencies", {})
        redis.start()
        await asyncio.sleep(6)  # the server retries Redis after REDIS_RETRY_SECONDS
        up = [await _chat(client, server.url, session, "需要什么材料") for _ in range(messages // 2)]
    return {
        "messages_while_down": len(down),
        "failed_while_down": sum(c != 200 for c, _ in down),
        "messages_after": len(up),
        "failed_after": sum(c != 200 for c, _ in up),
        "readyz_redis_while_down": ready_down.get("redis"),
    }


async def kill9(server: Server, citizens: int, data_dir: Path) -> dict[str, Any]:
    import httpx

    people = [(uuid.uuid4().hex, f"1390000{n:04d}") for n in range(citizens)]
    async with httpx.AsyncClient(timeout=60) as client:
        for session, phone in people:
            for text in (COMPLAINT, "海珠区江南大道中88号", phone, "跳过", "同意"):
                await _chat(client, server.url, session, text)
        told: dict[str, str] = {}

        async def confirm(session: str) -> None:
            try:
                code, body = await _chat(client, server.url, session, "确认提交")
            except httpx.HTTPError:
                return
            if code == 200 and body.get("ticket") and NUMBER.fullmatch(str(body["ticket"].get("ticket_no"))):
                told[session] = body["ticket"]["ticket_no"]

        jobs = [asyncio.create_task(confirm(s)) for s, _ in people]
        await asyncio.sleep(0.15)
        server.kill()
        await asyncio.gather(*jobs)
        first_round = len(told)
        server.start()
        for session, _ in people:
            if session not in told:
                await confirm(session)
    # phones are sealed at rest: opened with the data dir's key, as the server sealed them
    ring = crypto.load(
        os.environ.get("GOVBOT_DATA_KEY", ""), os.environ.get("GOVBOT_DATA_KEYS_OLD", ""), data_dir
    )
    db = sqlite3.connect(data_dir / "tickets.sqlite")
    phones = [ring.open(sealed) for (sealed,) in db.execute("SELECT phone FROM tickets").fetchall()]
    db.close()
    stored = Counter(phone for phone in phones if phone.startswith("1390000"))
    mine = {phone: stored.get(phone, 0) for _, phone in people}
    return {
        "citizens": citizens,
        "answered_before_kill": first_round,
        "told_a_number": len(told),
        "tickets_stored": sum(mine.values()),
        "duplicates": sum(max(0, n - 1) for n in mine.values()),
        "stored_but_never_told": sum(1 for s, p in people if mine[p] and s not in told),
    }


def report(res: dict[str, Any]) -> str:
    rows: list[list[Any]] = []
    if b := res.get("brute"):
        rows.append(
            [
                "brute force, chat (new session each)",
                b["chat"]["tries"],
                f"found {b['chat']['found']}, 5xx {b['chat']['errors']}",
            ]
        )
        rows.append(
            [
                "brute force, API (new X-Forwarded-For each)",
                b["api"]["tries"],
                f"found {b['api']['found']}, 429 {b['api']['locked_429']}, 5xx {b['api']['errors']}",
            ]
        )
    if f := res.get("fuzz"):
        rows.append(["fuzz over /openapi.json", f["cases"], f"5xx {f['server_errors']}"])
    for role, st in res.get("schemathesis", {}).items():
        counted = (ln.strip() for ln in st["summary"] if re.match(r"\s*\d+ generated", ln))
        cases = next(counted, "see its output")
        rows.append([f"schemathesis as {role} (not_a_server_error)", cases, f"exit code {st['exit_code']}"])
    if r := res.get("redis"):
        rows.append(
            [
                "chat with Redis stopped / restarted",
                f"{r['messages_while_down']} / {r['messages_after']}",
                f"failed {r['failed_while_down']} / {r['failed_after']}",
            ]
        )
    if k := res.get("kill9"):
        rows.append(
            [
                "kill -9 during 确认提交",
                k["citizens"],
                f"stored {k['tickets_stored']}, duplicates {k['duplicates']}, "
                f"stored but never told {k['stored_but_never_told']}",
            ]
        )
    return (
        header("Reliability (issue 11)", res["environment"])
        + markdown_table(["probe", "tries", "outcome"], rows)
        + "\n"
    )


def failures(res: dict[str, Any]) -> int:
    """What must be 0: tickets revealed, 5xx, messages lost with Redis down, tickets lost or doubled."""
    count = 0
    if b := res.get("brute"):
        count += b["chat"]["found"] + b["api"]["found"]
    if f := res.get("fuzz"):
        count += f["server_errors"]
    count += sum(int(st["exit_code"] != 0) for st in res.get("schemathesis", {}).values())
    if r := res.get("redis"):
        count += r["failed_while_down"]
    if k := res.get("kill9"):
        count += k["stored_but_never_told"] + k["duplicates"]
    return count


def schemathesis(server: Server, st: Path, examples: int, seed: int, token: str) -> dict[str, Any]:
    """Schemathesis' own generator over every operation, as one role; a 5xx fails its one check."""
    command = [
        str(st),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "30",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    failed = [
        line
        for line in lines
        if "Server error" in line or "Reproduce" in line or line.startswith(("curl", "_"))
    ]
    return {
        "exit_code": done.returncode,
        "summary": lines[-12:],
        "failures": failed,
        "output": done.stdout,
        "command": " ".join(command),
    }


def main() -> int:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, default=BENCH_VAR / "reliability")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--guesses", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--fuzz-cases", type=int, default=40, help="bodies per operation")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--citizens", type=int, default=30)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--schemathesis", type=Path, help="the st command of a venv with schemathesis")
    parser.add_argument("--st-examples", type=int, default=25, help="schemathesis cases per operation")
    parser.add_argument("--only", help="comma-separated probes to run (default: all)")
    args = parser.parse_args()
    chosen = set(args.only.split(",")) if args.only else {"brute", "fuzz", "redis", "kill9", "schemathesis"}
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    ensure_prepared(args.data_dir)
    res: dict[str, Any] = {"environment": environment()}
    with served(args, args.data_dir) as (server, redis):
        if "brute" in chosen:
            res["brute"] = asyncio.run(brute(server, args.guesses, args.concurrency))
            print(json.dumps(res["brute"]), file=sys.stderr)
        if "fuzz" in chosen:
            res["fuzz"] = asyncio.run(fuzz(server, args.fuzz_cases, args.seed))
            print(json.dumps(res["fuzz"], ensure_ascii=False)[:500], file=sys.stderr)
        if "schemathesis" in chosen and args.schemathesis:
            for role, token in (("agent", AGENT_TOKEN), ("admin", ADMIN_TOKEN)):
                run = schemathesis(server, args.schemathesis, args.st_examples, args.seed, token)
                res.setdefault("schemathesis", {})[role] = run
                print("\n".join(run["summary"]), file=sys.stderr)
        if "redis" in chosen:
            res["redis"] = asyncio.run(redis_outage(server, redis, 30))
            print(json.dumps(res["redis"]), file=sys.stderr)
        if "kill9" in chosen:
            res["kill9"] = asyncio.run(kill9(server, args.citizens, args.data_dir))
            print(json.dumps(res["kill9"]), file=sys.stderr)
    print(report(res))
    write_json(args.out, res)
    return 1 if failures(res) else 0


if __name__ == "__main__":
    raise SystemExit(main())
