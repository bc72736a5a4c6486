"""Server saturation and the WeChat burst (issue 9): `govbot serve --workers 2` measured against its
own single-message CPU time, in one run.

1. Floor: one client sends distinct questions one after another; the server's CPU seconds
   (every process of `govbot serve`, read from /proc) per answer is the single-message CPU time.
   Two cores can then give at most 2 / cpu_time answers per second; the goal is
   >= 0.8 x that at saturation.
2. Levels: 1, 2, 4, 8, 16, 32 clients (each its own session, back to back) for --seconds each:
   answers/s, p50/p95, the server's CPU seconds per answer and cores used, each worker's CPU
   share, and the load client's own CPU (it runs on the same machine).
3. The WeChat burst: --burst simultaneous pushes (distinct users, distinct questions) to an
   official account, signed as WeChat signs them, once in plaintext and once in safe mode (AES),
   --burst-rounds each; a passive reply with content inside --budget seconds of the send counts.
   Late answers go to a fake customer-service API on loopback; the run waits for them between
   rounds so a round starts on an idle server.

Every text sent is distinct (a question from ../shared/eval/dev_gd_questions.tsv and
bench/data/colloquial_gd.tsv with a different opener each pass) and the query-vector cache
is off in the run's config, so no answer is a cache hit. The server runs with REDIS_URL under a
private key prefix (deleted afterwards) and the rate limits raised. Linux only (/proc).

The server's idle CPU (index-sync and outbox polls) is measured first for --idle-seconds and
its share is taken out of the CPU per answer. `--engines 1 --threads 2` runs the server as it
was before issue 9 (one engine per worker, two OpenMP threads per answer) for an A/B.
`--listen shared` serves with uvicorn's one shared socket instead of a socket per worker
(server.listen); `--ab shared` serves both, measured interleaved.
Examples::

    .venv/bin/python bench/server_saturation.py --data-dir /tmp/burst_gd --skip-prepare
    .venv/bin/python bench/server_saturation.py --data-dir /tmp/burst_gd --skip-prepare --engines 1 \
        --threads 2
    .venv/bin/python bench/server_saturation.py --data-dir /tmp/burst_gd --skip-prepare --ab shared
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    DEV_QUESTIONS,
    REPO_ROOT,
    data_dir_for,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)
from load_chat import (
    RAISED_LIMIT,
    delete_keys,
    ensure_prepared,
    read_questions,
    redis_reachable,
    running_server,
)

# the pushes are signed and encrypted by the tests' independent WeChat side (tests/utils/wechat.py)
from tests.utils.wechat import AES_KEY, TOKEN, encrypted_push, fake_wechat, plain_query, text_xml

OPENERS = [
    "",
    "请问",
    "你好，",
    "麻烦问一下，",
    "咨询一下，",
    "我想知道",
    "您好，请问",
    "打扰一下，",
    "问下，",
    "想了解",
]
APPS = {"wxburstplain": "plain", "wxburstsafe": "safe"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_SHARE = 0.8  # of 2 cores / single-message CPU time


def distinct_texts(questions: list[str]) -> Iterator[str]:
    """Each question under each opener in turn: len(questions) x len(OPENERS) distinct texts."""
    for opener in itertools.cycle(OPENERS):
        for question in questions:
            yield f"{opener}{question}"


# -- the server's processes and their CPU ------------------------------------------------------


def _cpu_of(stat: Path) -> tuple[int, float] | None:
    """(process group, CPU seconds) from a /proc/.../stat file; None when it is gone."""
    try:
        raw = stat.read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / CLK_TCK  # pgrp; utime + stime


def group_cpu(pgid: int) -> dict[tuple[int, int], float]:
    """CPU seconds of every thread of every live process in the process group, by (pid, tid)."""
    out: dict[tuple[int, int], float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (_cpu_of(entry / "stat") or (0, 0.0))[0] != pgid:
            continue
        for task in (entry / "task").iterdir():
            found = _cpu_of(task / "stat")
            if found is not None:
                out[(int(entry.name), int(task.name))] = found[1]
    return out


@dataclass
class CpuMeter:
    """The server's CPU between start() and stop(): in total, per process and per busy thread."""

    pgid: int

    def start(self) -> None:
        self.before = group_cpu(self.pgid)
        self.wall = time.perf_counter()
        self.client = _self_cpu()

    def stop(self) -> dict[str, Any]:
        after = group_cpu(self.pgid)
        wall = time.perf_counter() - self.wall
        deltas = {key: after[key] - self.before.get(key, 0.0) for key in after}
        by_process: dict[int, float] = {}
        threads: dict[int, list[float]] = {}
        for (pid, _tid), delta in deltas.items():
            by_process[pid] = by_process.get(pid, 0.0) + delta
            if delta >= 0.05:
                threads.setdefault(pid, []).append(round(delta, 2))
        total = sum(by_process.values())
        order = sorted(by_process, key=lambda pid: -by_process[pid])
        return {
            "server_cpu_s": round(total, 3),
            "wall_s": round(wall, 3),
            "server_cores": round(total / wall, 3) if wall else 0.0,
            "cpu_by_process_s": [round(by_process[pid], 2) for pid in order],
            "busy_threads_by_process": [sorted(threads.get(pid, []), reverse=True) for pid in order],
            "client_cpu_s": round(_self_cpu() - self.client, 3),
        }


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- chat levels -------------------------------------------------------------------------------


async def chat_level(
    url: str, texts: Iterator[str], clients: int, seconds: float, requests: int
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: Counter[str] = Counter()
    budget = iter(range(requests))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        session_id = f"sat-{uuid.uuid4().hex}"
        while time.perf_counter() < deadline and next(budget, None) is not None:
            started = time.perf_counter()
            try:
                response = await http.post(
                    "/api/v1/chat", json={"session_id": session_id, "text": next(texts)}
                )
                if response.status_code != 200 or not response.json().get("reply"):
                    errors[f"HTTP {response.status_code}"] += 1
                    continue
            except (httpx.HTTPError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        duration = time.perf_counter() - started
    return {
        "clients": clients,
        "answers": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "answers_per_s": round(len(latencies) / duration, 2) if duration else 0.0,
        **latency_summary(latencies),
    }


def measured(pgid: int, job: Any, idle_cores: float = 0.0) -> dict[str, Any]:
    """`job` run with the server's CPU measured; per answer without the idle background's share."""
    meter = CpuMeter(pgid)
    meter.start()
    result = asyncio.run(job)
    cpu = meter.stop()
    answers = result.get("answers") or 0
    busy = cpu["server_cpu_s"] - idle_cores * cpu["wall_s"]
    cpu["server_cpu_per_answer_ms"] = round(1000 * busy / answers, 1) if answers else None
    return {**result, **cpu}


# -- the WeChat burst --------------------------------------------------------------------------


def push(app_id: str, openid: str, text: str, msg_id: str) -> tuple[dict[str, str], str]:
    """(query, body) of one text push as WeChat sends it to this app (signed; encrypted in safe mode)."""
    xml = text_xml(content=text, msg_id=msg_id, FromUserName=openid)
    if APPS[app_id] == "plain":
        query = plain_query()
        query["openid"] = openid
        return query, xml
    query, body = encrypted_push(xml, app_id)
    query["openid"] = openid
    return query, body


def passive_content(text: str, app_id: str) -> str:
    """The Content of a passive reply ('' for 'success'), decrypting a safe-mode reply."""
    from defusedxml import ElementTree as SafeET

    from tests.utils.wechat import wx_decrypt

    if not text.startswith("<xml>"):
        return ""
    fields = {child.tag: child.text or "" for child in SafeET.fromstring(text)}
    if APPS[app_id] == "safe":
        inner, _ = wx_decrypt(fields["Encrypt"])
        fields = {child.tag: child.text or "" for child in SafeET.fromstring(inner)}
    return fields.get("Content", "")


async def burst(url: str, app_id: str, texts: Iterator[str], size: int, budget: float) -> dict[str, Any]:
    """`size` pushes sent at once; each one's time to its HTTP answer and whether it was passive."""
    import httpx

    results: list[tuple[float, bool]] = []
    run_id = uuid.uuid4().hex[:10]
    first_id = time.time_ns() // 1000 * 1000  # microseconds x 1000 + n: unique across bursts, < 2^63
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=0)  # WeChat: one connection each

    async def one(http: httpx.AsyncClient, n: int) -> None:
        # a MsgId of its own: WeChat's dedupe (in Redis, shared by the --ab servers) would answer a
        # repeated one from the first answer's record
        query, body = push(app_id, f"oBurst_{run_id}_{n:02d}", next(texts), f"{first_id + n}")
        started = time.perf_counter()
        response = await http.post(f"/connectors/wechat/{app_id}", params=query, content=body.encode())
        elapsed = time.perf_counter() - started
        content = passive_content(response.text, app_id) if response.status_code == 200 else ""
        results.append((elapsed, bool(content)))

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(*(one(http, n) for n in range(size)))
    passive_in_time = sum(1 for elapsed, passive in results if passive and elapsed <= budget)
    return {
        "app": app_id,
        "encoding": APPS[app_id],
        "sent": size,
        "passive_in_budget": passive_in_time,
        "late": sum(1 for _, passive in results if not passive),
        "max_s": round(max(e for e, _ in results), 2),
        "median_s": round(sorted(e for e, _ in results)[len(results) // 2], 2),
    }


# -- configuration and run ---------------------------------------------------------------------


def write_config(directory: Path, prefix: str, api_base: str, args: Any) -> Path:
    """config.yml: limits raised, this run's Redis prefix, query cache off, the two WeChat apps,
    and --engines / --threads when given."""
    import yaml

    from core.settings import DEFAULT_CONFIG

    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config["server"].update(rate_per_ip=RAISED_LIMIT, rate_per_session=RAISED_LIMIT, redis_prefix=prefix)
    config["index"]["embedder"]["query_cache_size"] = 0
    wechat = config["channels"]["wechat"]
    wechat["apps"] = [{"app_id": a, "kind": "official_account", "encoding": e} for a, e in APPS.items()]
    wechat["api_base"] = api_base
    wechat["reply_budget_seconds"] = args.budget
    if args.engines is not None:
        config["server"]["engines"] = args.engines
    if args.threads is not None:
        config["runtime"]["threads"] = args.threads
    if args.listen is not None:
        config["server"]["listen"] = args.listen
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def wechat_env(secrets: dict[str, str]) -> dict[str, str]:
    from core.channel_settings import wechat_env_name

    env = {}
    for app_id in APPS:
        env[wechat_env_name(app_id, "token")] = TOKEN
        env[wechat_env_name(app_id, "aes_key")] = AES_KEY
        env[wechat_env_name(app_id, "app_secret")] = secrets[app_id]
    return env


def thread_settings(pid: int) -> dict[str, str]:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    wanted = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    pairs = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
    return {k: pairs.get(k, "(unset)") for k in wanted}


def workers_of(pgid: int) -> list[int]:
    """The worker processes: members of the group that are not its leader."""
    return sorted({pid for pid, _tid in group_cpu(pgid) if pid != pgid})


def parse_args(argv: list[str] | None = None) -> Any:
    parser = docstring_parser(__doc__)
    parser.add_argument("--data-dir", help="prepared data directory (default var/bench/retrieval)")
    parser.add_argument("--skip-prepare", action="store_true", help="serve --data-dir as it is")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument(
        "--floor-requests", type=int, default=60, help="sequential answers timed for the floor"
    )
    parser.add_argument("--levels", default="1,2,4,8,16,32")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--requests", type=int, default=5000, help="most requests per level")
    parser.add_argument("--burst", type=int, default=16, help="simultaneous pushes per burst")
    parser.add_argument("--burst-rounds", type=int, default=3, help="bursts per encoding")
    parser.add_argument("--budget", type=float, default=4.5, help="seconds a passive reply may take")
    parser.add_argument("--engines", type=int, help="server.engines for the run (default: config.yml's)")
    parser.add_argument("--threads", type=int, help="runtime.threads for the run (default: config.yml's)")
    parser.add_argument(
        "--listen",
        choices=["reuseport", "shared"],
        help="server.listen for the run (default: config.yml's)",
    )
    parser.add_argument(
        "--ab",
        nargs="?",
        const="before",
        choices=["before", "shared"],
        help="also serve, on the next port and measured interleaved with this one, the server as "
        "before issue 9 (`before`, the default: --engines 1 --threads 2) or with uvicorn's shared "
        "socket (`shared`: --listen shared, the rest as this one)",
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU measured this long")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    args.data_dir = data_dir_for(args.data_dir, "retrieval")
    args.levels = [int(x) for x in str(args.levels).split(",") if x.strip()]
    return args


class Variant:
    """One served configuration and what was measured on it."""

    def __init__(self, name: str, url: str, pgid: int, args: Any) -> None:
        self.name, self.url, self.pgid, self.args = name, url, pgid, args
        workers = workers_of(pgid)
        self.results: dict[str, Any] = {
            "engines": args.engines,
            "listen": args.listen,
            "threads_setting": args.threads,
            "threads": thread_settings(workers[-1]) if workers else {},
            "worker_pids": workers,
            "levels": [],
            "bursts": [],
        }

    def floor(self, texts: Iterator[str]) -> None:
        """Idle background first, then one client: the single-message CPU time."""
        args, results = self.args, self.results
        asyncio.run(chat_level(self.url, texts, 2, 60, 8))  # warm both workers' connections
        results["idle"] = idle = measured(self.pgid, asyncio.sleep(args.idle_seconds, {}))
        self.idle_cores = idle["server_cores"]  # index-sync and outbox polls: not the answers' cost
        floor = measured(self.pgid, chat_level(self.url, texts, 1, 600, args.floor_requests), self.idle_cores)
        results["floor"] = floor
        results["cpu_time_ms"] = floor["server_cpu_per_answer_ms"]
        results["target_answers_per_s"] = round(TARGET_SHARE * 2000 / results["cpu_time_ms"], 2)
        print(f"{self.name} floor: {results['cpu_time_ms']:.1f} ms CPU per answer", file=sys.stderr)

    def level(self, texts: Iterator[str], clients: int) -> None:
        args = self.args
        level = measured(
            self.pgid, chat_level(self.url, texts, clients, args.seconds, args.requests), self.idle_cores
        )
        per_answer = level["server_cpu_per_answer_ms"]
        level["efficiency"] = round(self.results["cpu_time_ms"] / per_answer, 2) if per_answer else None
        self.results["levels"].append(level)
        print(
            f"{self.name} {clients} clients: {level['answers_per_s']} answers/s p95 {level['p95_ms']} ms "
            f"cores {level['server_cores']} {level['cpu_by_process_s']}",
            file=sys.stderr,
        )

    def burst(self, texts: Iterator[str], app_id: str, api: Any) -> None:
        args = self.args
        sent_before = len(api.sent)
        meter = CpuMeter(self.pgid)
        meter.start()
        outcome = asyncio.run(burst(self.url, app_id, texts, args.burst, args.budget))
        outcome["late_delivered"] = _late_delivered(api, sent_before, outcome["late"], 60)
        outcome.update(meter.stop())
        self.results["bursts"].append(outcome)
        print(
            f"{self.name} burst {app_id}: {outcome['passive_in_budget']}/{args.burst} passive, "
            f"max {outcome['max_s']} s {outcome['cpu_by_process_s']}",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    require_shared(DEV_QUESTIONS)
    env = environment()
    why = redis_reachable(args.redis_url)
    if why:
        raise SystemExit(f"error: Redis at {args.redis_url} is not reachable ({why})")
    prepared = {"skipped": True} if args.skip_prepare else ensure_prepared(args.data_dir)
    texts = distinct_texts(read_questions())
    prefix = f"govbot-sat-{uuid.uuid4().hex[:8]}:"
    secrets = {app_id: f"secret-{app_id}" for app_id in APPS}
    results: dict[str, Any] = {"environment": env, "workers": args.workers, "prepared": prepared}
    configs = {"now": args}
    if args.ab == "before":  # the server as it was before issue 9, on the next port
        configs["before"] = argparse.Namespace(
            **{**vars(args), "port": args.port + 1, "engines": 1, "threads": 2}
        )
    elif args.ab == "shared":  # the same server on uvicorn's one shared socket
        args.listen = args.listen or "reuseport"
        configs = {args.listen: args}
        configs["shared"] = argparse.Namespace(**{**vars(args), "port": args.port + 1, "listen": "shared"})
    with tempfile.TemporaryDirectory(prefix="govbot-sat-") as tmp, fake_wechat(secrets) as api:
        os.environ.update(wechat_env(secrets))
        try:
            with contextlib.ExitStack() as stack:
                variants = []
                for name, vargs in configs.items():
                    folder = Path(tmp) / name
                    folder.mkdir()
                    config = write_config(folder, f"{prefix}{name}:", api.base, vargs)
                    url, pgid = stack.enter_context(running_server(vargs, config, folder / "server.log"))
                    variants.append(Variant(name, url, pgid, vargs))
                for variant in variants:
                    variant.floor(texts)
                for clients in args.levels:  # interleaved: both see the same machine load
                    for variant in variants:
                        variant.level(texts, clients)
                for app_id in APPS:
                    for _ in range(args.burst_rounds):
                        for variant in variants:
                            variant.burst(texts, app_id, api.api)
        finally:
            delete_keys(args.redis_url, prefix)
    results["variants"] = {v.name: v.results for v in variants}
    results["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json(args.out, results)
    report(results)


def _late_delivered(api: Any, before: int, late: int, seconds: float) -> int:
    """Citizens who got their late answer through the customer-service API (waits up to `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        with api.lock:
            users = {message["touser"] for message in api.sent[before:]}
        if len(users) >= late or time.monotonic() > deadline:
            return len(users)
        time.sleep(0.1)


def _threads(busy: list[list[float]]) -> str:
    """Busy threads per process: '0.5+0.4 / 0.1' (CPU seconds of each thread over 0.05 s)."""
    return " / ".join("+".join(f"{t:.1f}" for t in process) for process in busy if process)


def report(results: dict[str, Any]) -> None:
    env = results["environment"]
    print(header("Server saturation and the WeChat burst", env))
    print(
        f"`govbot serve --workers {results['workers']}`, REDIS_URL set, query cache off, distinct texts; "
        f"load average at end {results['loadavg_at_end'][0]}.\n"
    )
    for name, variant in results["variants"].items():
        report_variant(name, variant)
    bursts = [b for v in results["variants"].values() for b in v["bursts"]]
    print(json.dumps({"bursts_all_passive": all(b["passive_in_budget"] == b["sent"] for b in bursts)}))


def report_variant(name: str, results: dict[str, Any]) -> None:
    floor = results["floor"]
    threads = " ".join(f"{k}={v}" for k, v in results.get("threads", {}).items())
    engines = "config.yml's" if results["engines"] is None else results["engines"]
    listen = results.get("listen") or "config.yml's"
    print(f"### {name}: engines per worker {engines}; listen {listen}; worker threads: {threads}\n")
    cpu_ms = results["cpu_time_ms"]
    idle = results["idle"]["server_cores"]
    print(
        f"Floor: {floor['answers']} answers one at a time, {cpu_ms:.1f} ms server CPU per answer "
        f"(idle background {idle:.3f} cores subtracted; p50 {floor['p50_ms']:.0f} ms wall) -> 2 cores "
        f"give at most {2000 / cpu_ms:.1f} answers/s; target {TARGET_SHARE} x that = "
        f"{results['target_answers_per_s']} answers/s.\n"
    )
    rows = [
        (
            x["clients"],
            x["answers"],
            x["errors"],
            f"{x['answers_per_s']:.1f}",
            f"{x['p50_ms']:.0f}",
            f"{x['p95_ms']:.0f}",
            f"{x['server_cpu_per_answer_ms']:.0f}",
            f"{x['efficiency']:.2f}",
            f"{x['server_cores']:.2f}",
            _threads(x["busy_threads_by_process"]),
            f"{x['client_cpu_s']:.1f}",
            f"{x['answers_per_s'] / results['target_answers_per_s']:.2f}",
        )
        for x in results["levels"]
    ]
    columns = [
        "clients",
        "answers",
        "errors",
        "answers/s",
        "p50 ms",
        "p95 ms",
        "CPU ms/answer",
        "floor / that",
        "server cores",
        "busy threads' CPU s, by process",
        "client CPU s",
        "/ target",
    ]
    print(markdown_table(columns, rows))
    best = max(results["levels"], key=lambda x: x["answers_per_s"])
    print(
        f"\nsaturation: {best['answers_per_s']:.1f} answers/s at {best['clients']} clients = "
        f"{best['answers_per_s'] / results['target_answers_per_s']:.2f} x the target "
        f"({results['target_answers_per_s']} answers/s), on {best['server_cores']:.2f} cores obtained; "
        f"CPU per answer there {best['efficiency']:.2f} x the floor's inverse "
        f"(2 free cores at that cost: {2000 / best['server_cpu_per_answer_ms']:.1f} answers/s)\n"
    )
    rows = [
        (
            b["encoding"],
            b["sent"],
            b["passive_in_budget"],
            b["late"],
            b["late_delivered"],
            b["median_s"],
            b["max_s"],
            _threads(b["busy_threads_by_process"]),
        )
        for b in results["bursts"]
    ]
    columns = [
        "encoding",
        "sent",
        "passive in budget",
        "late",
        "late delivered by API",
        "median s",
        "max s",
        "busy threads' CPU s, by process",
    ]
    print(markdown_table(columns, rows))
    print()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    main()
