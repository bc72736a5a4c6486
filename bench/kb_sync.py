"""Several machines, one knowledge base: answering while the shared KB changes, and joining.

Starts two `govbot serve` processes (python -m cli.main) with separate data directories that
hold only trained models (copied from --models, default var/), sharing a fresh PostgreSQL
schema (127.0.0.1:5432/test, as the tests) and the local Redis under a private prefix.

1. Idle: --clients threads send chat questions to machine B for --seconds; answers/s, p95.
2. During a re-import: the first 2,000 Guangdong-catalog records (../shared) were imported
   with changed names beforehand; now the originals are imported through machine A's data
   directory (`govbot kb import`, which embeds the 2,000 changed items and stores the vectors
   in the same transaction), and B's answers are measured from the import's start until B's
   /readyz reports the new version. Errors are counted; the goal is <= 1.5x idle.
3. Join and restart, --rounds times: a server with an empty data directory (models only)
   joins; then the same server is stopped and started again on its now-filled directory (the
   fixed cost of any start). Each start's phases come from /readyz `startup` (core/startup.py);
   the join's own cost (join - restart, per round) and the whole join are compared with the
   time this process takes to load every stored vector from the database (timed each round),
   and with embedding the corpus instead (timed on --embed-sample items, scaled to all).
   Medians over the rounds.

--join-only skips 1 and 2 (the originals are imported once, then the joins).

    .venv/bin/python bench/kb_sync.py --seconds 20 --out var/bench/kb_sync.json
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    CATALOG,
    REPO_ROOT,
    docstring_parser,
    environment,
    header,
    percentile,
    require_shared,
    write_json,
)

from core.crypto import new_key
from core.runtime import thread_env
from core.settings import DEFAULT_CONFIG, load_settings
from index.builder import embed_views
from index.encoders import make_encoder
from knowledge.store import KnowledgeStore
from tests.utils.redis_server import REDIS_URL, private_redis
from tests.utils.servers import free_port, start_serve_process, stop_process, wait_until_up
from tests.utils.ticketdb import pg_schema_url

QUESTIONS = [
    "居住证怎么办",
    "普通护照首次申领怎么办",
    "补办身份证需要什么材料",
    "社保卡丢了怎么补办",
    "营业执照怎么申请",
]


class Load:
    """Client threads asking one server without pause; latencies per finished request."""

    def __init__(self, url: str, clients: int) -> None:
        self.url, self.clients = url, clients
        self.samples: list[tuple[float, float, bool]] = []  # (end time, latency s, ok)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=60) as client:
            for text in itertools.cycle(QUESTIONS[n % len(QUESTIONS) :] + QUESTIONS[: n % len(QUESTIONS)]):
                if self._stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    ok = (
                        client.post(
                            f"{self.url}/api/v1/chat", json={"session_id": uuid.uuid4().hex, "text": text}
                        ).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    self.samples.append((time.perf_counter(), time.perf_counter() - started, ok))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def window(self, start: float, end: float) -> dict[str, Any]:
        rows = [s for s in self.samples if start <= s[0] <= end]
        latencies = [s[1] * 1000 for s in rows if s[2]]
        return {
            "seconds": round(end - start, 2),
            "answers": len(latencies),
            "errors": sum(1 for s in rows if not s[2]),
            "answers_per_s": round(len(latencies) / max(end - start, 1e-9), 2),
            "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        }


def _catalog_files(catalog: Path, tmp: Path, records: int) -> tuple[Path, Path]:
    lines = catalog.read_text(encoding="utf-8").splitlines()[:records]
    original, renamed = tmp / "catalog.jsonl", tmp / "catalog-old.jsonl"
    original.write_text("\n".join(lines) + "\n", encoding="utf-8")
    old = []
    for line in lines:
        record = json.loads(line)
        record["matter_name"] = f"{record.get('matter_name') or record.get('TASK_NAME') or ''}（旧版）"
        old.append(json.dumps(record, ensure_ascii=False))
    renamed.write_text("\n".join(old) + "\n", encoding="utf-8")
    return original, renamed


def _govbot(env: dict[str, str], data_dir: Path, *args: str) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args]
    subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - started


def _ready(url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/readyz", timeout=30).json()
    return body


def _vector_load_s(db_url: str) -> tuple[float, int, Any]:
    """Seconds to read every published item with its vector from the database, as a joining
    machine must at least do; also the count and the changes (for the re-embed estimate)."""
    kb = KnowledgeStore(db_url)
    try:
        started = time.perf_counter()
        changes = kb.changes_since(0)
        vectors = [np.frombuffer(s.vector.data, dtype="<f4") for s in changes.items if s.vector]
        return time.perf_counter() - started, len(vectors), changes
    finally:
        kb.close()


def _start_figures(wall_s: float, ready: dict[str, Any]) -> dict[str, Any]:
    startup = ready.get("startup", {})
    return {
        "wall_to_ready_s": round(wall_s, 2),  # this process: spawn to the first 200 of /readyz
        "ready_after_s": startup.get("ready_after_s"),  # the server: its process start to ready
        "phases": startup.get("phases", {}),
        "blocks": startup.get("blocks", {}),
        "last_sync": ready.get("last_sync"),
    }


def _median(values: list[float]) -> float:
    return round(float(np.median(values)), 3)


def _join_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds, and the ratios the goal is stated in (join within 2x the load)."""
    load = _median([r["vector_load_s"] for r in rounds])
    join = _median([r["join"]["ready_after_s"] for r in rounds])
    restart = _median([r["restart"]["ready_after_s"] for r in rounds])
    own = _median([r["join"]["ready_after_s"] - r["restart"]["ready_after_s"] for r in rounds])
    phases: dict[str, dict[str, float]] = {}
    for kind in ("join", "restart"):
        names = [n for n in rounds[0][kind]["phases"]] + [f"[{n}]" for n in rounds[0][kind]["blocks"]]
        phases[kind] = {
            name: _median(
                [
                    (r[kind]["blocks"] if name.startswith("[") else r[kind]["phases"]).get(
                        name.strip("[]"), 0.0
                    )
                    for r in rounds
                ]
            )
            for name in names
        }
    return {
        "vector_load_s": load,
        "join_ready_s": join,
        "restart_ready_s": restart,
        "join_own_s": own,  # median over rounds of (join - restart)
        "join_over_load": round(join / load, 1),
        "join_own_over_load": round(own / load, 2),
        "goal_2x_total_met": join <= 2 * load,
        "goal_2x_own_met": own <= 2 * load,
        "phases_median": phases,
    }


def _busy_windows(
    args: Any,
    env: dict[str, str],
    figures: dict[str, Any],
    dir_a: Path,
    url_a: str,
    machine: Any,
    original: Path,
    renamed: Path,
) -> None:
    """Steps 1 and 2: B answering while idle, then while A re-imports the catalog."""
    figures["seed_import_s"] = round(_govbot(env, dir_a, "kb", "import", str(renamed)), 1)
    _dir_b, url_b, _ = machine("b")
    with Load(url_b, args.clients) as load:
        time.sleep(2.0)  # warm the clients' connections before the window
        idle_start = time.perf_counter()
        time.sleep(args.seconds)
        idle_end = time.perf_counter()
        target = _ready(url_a)["kb_version"] + 1
        busy_start = time.perf_counter()
        figures["reimport_s"] = round(_govbot(env, dir_a, "kb", "import", str(original)), 1)
        deadline = time.monotonic() + 900
        while _ready(url_b).get("index_version", 0) < target:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"machine B did not reach version {target}: did the re-import change nothing?"
                )
            time.sleep(0.2)
        busy_end = time.perf_counter()
        figures["b_current_after_import_s"] = round(busy_end - busy_start - figures["reimport_s"], 2)
    figures["idle"] = load.window(idle_start, idle_end)
    figures["during_reimport"] = load.window(busy_start, busy_end)


def main() -> None:
    parser = docstring_parser(__doc__)
    parser.add_argument("--models", default=str(REPO_ROOT / "var"), help="data dir with trained models/")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--catalog", default=str(CATALOG), help="Guangdong catalog JSONL (../shared)")
    parser.add_argument("--records", type=int, default=2000, help="catalog records re-imported")
    parser.add_argument("--seconds", type=float, default=20.0, help="idle measuring window")
    parser.add_argument("--embed-sample", type=int, default=200, help="items embedded to time a re-embed")
    parser.add_argument("--rounds", type=int, default=3, help="joins (each followed by a restart)")
    parser.add_argument("--join-only", action="store_true", help="skip the idle and re-import windows")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    catalog = Path(args.catalog)
    if catalog == CATALOG:
        require_shared(CATALOG)
    models = Path(args.models) / "models"
    if not (models / "calibration.json").is_file():
        sys.exit(f"no trained models in {models}: run `govbot train` (or `make run`) first")
    env_info = environment()
    tmp = Path(tempfile.mkdtemp(prefix="govbot-kb-sync-"))
    original, renamed = _catalog_files(catalog, tmp, args.records)
    processes: list[Any] = []
    figures: dict[str, Any] = {"environment": env_info, "records": args.records, "clients": args.clients}
    figures["threads"] = thread_env(load_settings(data_dir=tmp / "unused").runtime)  # what each server sets
    with pg_schema_url() as db_url, private_redis() as (_redis, prefix):
        config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        config["server"] |= {
            "redis_prefix": prefix,
            "rate_per_ip": 10_000_000,
            "rate_per_session": 10_000_000,
        }
        config["tickets"]["sweep_interval_seconds"] = 0
        (tmp / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "GOVBOT_CONFIG": str(tmp / "config.yml"),
            "OMP_WAIT_POLICY": "PASSIVE",
            "GOVBOT_DATA_KEY": new_key(),  # one data key for all machines, as deployment.md says
        }
        env.pop("GOVBOT_DATA_DIR", None)

        def serve(data_dir: Path) -> tuple[str, float, Any]:
            port = free_port()
            started = time.perf_counter()
            log = tmp / f"{data_dir.name}-{len(processes)}.log"
            process = start_serve_process(data_dir, port, env, log, REPO_ROOT)
            processes.append(process)
            wait_until_up(f"http://127.0.0.1:{port}/readyz", timeout=1800, process=process)
            return f"http://127.0.0.1:{port}", time.perf_counter() - started, process

        def machine(name: str) -> tuple[Path, str, float]:
            data_dir = tmp / name
            data_dir.mkdir()
            shutil.copytree(models, data_dir / "models")
            url, seconds, _process = serve(data_dir)
            return data_dir, url, seconds

        try:
            dir_a, url_a, _ = machine("a")  # imports the bundled sample into the shared database
            if args.join_only:
                figures["seed_import_s"] = round(_govbot(env, dir_a, "kb", "import", str(original)), 1)
            else:
                _busy_windows(args, env, figures, dir_a, url_a, machine, original, renamed)
            _, figures["vectors"], changes = _vector_load_s(db_url)
            sample = [s.item.dense_views() for s in changes.items[: args.embed_sample]]
            encoder = make_encoder(load_settings(data_dir=dir_a).index.embedder)
            started = time.perf_counter()
            embed_views(encoder, sample)
            per_item = (time.perf_counter() - started) / max(len(sample), 1)
            figures["reembed_estimate_s"] = round(per_item * len(changes.items), 1)
            del changes, encoder
            rounds = []
            for n in range(args.rounds):
                load_s, _, _ = _vector_load_s(db_url)
                data_dir = tmp / f"join-{n}"
                data_dir.mkdir()
                shutil.copytree(models, data_dir / "models")
                url, join_s, process = serve(data_dir)  # an empty data directory: a join
                join = _start_figures(join_s, _ready(url))
                stop_process(process)
                url, restart_s, process = serve(data_dir)  # the same directory, index on disk
                restart = _start_figures(restart_s, _ready(url))
                stop_process(process)
                rounds.append({"vector_load_s": round(load_s, 3), "join": join, "restart": restart})
                print(
                    f"round {n}: load {load_s:.2f} s, join {join['ready_after_s']} s, "
                    f"restart {restart['ready_after_s']} s",
                    flush=True,
                )
            figures["rounds"] = rounds
            figures["join"] = _join_summary(rounds)
        finally:
            for process in processes:
                if process.poll() is None:
                    stop_process(process)
    figures["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if not args.join_only:
        idle, busy = figures["idle"], figures["during_reimport"]
        figures["p95_ratio"] = (
            round(busy["p95_ms"] / idle["p95_ms"], 2) if idle["p95_ms"] and busy["p95_ms"] else None
        )
        figures["rate_ratio"] = round(idle["answers_per_s"] / max(busy["answers_per_s"], 1e-9), 2)
    print(header("kb_sync: two machines, one knowledge base", env_info))
    shown = {k: v for k, v in figures.items() if k not in ("environment", "rounds")}
    print(json.dumps(shown, ensure_ascii=False, indent=1))
    write_json(args.out, figures)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
