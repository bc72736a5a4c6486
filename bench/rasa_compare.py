"""govbot next to Rasa 3.6.21 (issue 9): intent parse latency, answer latency through the REST
channel, and server memory, measured side by side and interleaved in one run on this machine.

What runs, all on 127.0.0.1, each in its own process group:

- `govbot serve --workers 1` on a copy of --data-dir (a prepared Guangdong catalog data directory;
  the original is never written), query-vector cache off, rate limits raised, no Redis.
- govbot's rasa-sdk action server (`python -m rasa_sdk --actions connectors.rasa_actions`, from
  .venv-rasa) with GOVBOT_API_URL pointing at that govbot server.
- `rasa run --enable-api` (Rasa 3.6.21 on Python 3.10, from its own venv, --venv) with a model
  trained by this script from govbot's own NLU data: every intent of nlu/data/nlu.yml with its
  examples (the synonyms, lookups and regexes are left out: DIET gets no entity annotations),
  pipeline JiebaTokenizer, CountVectorsFeaturizer (words), CountVectorsFeaturizer (char_wb 1-3
  grams), DIETClassifier (--epochs, entity recognition off); policies: RulePolicy only, one rule
  per intent that runs `action_answer_from_kb` on the action server (govbot decides what to say,
  whatever intent DIET picked). endpoints.yml points at the action server; credentials.yml
  enables the REST channel.

What is timed, per question (the kb questions of ../shared/eval/dev_gd_questions.tsv, then those
of bench/data/colloquial_gd.tsv, up to --warmup + --limit; the first --warmup untimed), each
request from one keep-alive HTTP client, wall time from send to the full response:

(a) POST /model/parse {"text"} on govbot, and on Rasa (DIET);
(b) POST /webhooks/rest/webhook {"sender", "message"} on govbot, and on Rasa (Rasa parses, its
    RulePolicy predicts action_answer_from_kb, Rasa calls the action server, which POSTs
    /api/v1/chat to the same govbot server and utters its reply).

The two systems alternate who goes first from one question to the next; every webhook request has
a sender id of its own (distinct between govbot and Rasa). After the run: the resident memory
(VmRSS, and the peak VmHWM) of every process of each server's group, the thread settings in each
server's environment, its OS thread count, the load average, and the versions. An answer counts as
empty when the webhook returned no message with text. Rasa's intent accuracy is not measured; the
intents DIET and govbot chose are only counted.

    .venv/bin/python bench/rasa_compare.py --install          # once: the Rasa venv (minutes)
    .venv/bin/python bench/rasa_compare.py --data-dir /tmp/speed_gd --out var/bench/rasa_compare.json

Rasa is never part of the test command or requirements.lock: it lives in --venv
(default var/bench/rasa310, git-ignored), created only by --install.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _common import (
    BENCH_VAR,
    COLLOQUIAL,
    DEV_QUESTIONS,
    REPO_ROOT,
    docstring_parser,
    environment,
    header,
    latency_summary,
    markdown_table,
    require_shared,
    write_json,
)

RASA_VERSION = "3.6.21"
PYTHON310 = "/root/.pyenv/versions/3.10.13/bin/python"
DEFAULT_VENV = BENCH_VAR / "rasa310"
DEFAULT_PROJECT = BENCH_VAR / "rasa_project"
NLU_DATA = REPO_ROOT / "nlu" / "data" / "nlu.yml"
ACTION = "action_answer_from_kb"
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_INTRA_OP_PARALLELISM_THREADS",
    "TF_INTER_OP_PARALLELISM_THREADS",
)
QUIET_RASA = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


# -- the Rasa venv ------------------------------------------------------------------------------


def install(venv: Path, python: str) -> None:
    """A Python 3.10 venv with rasa==3.6.21 and jieba (for JiebaTokenizer), from the package index."""
    if not Path(python).is_file():
        raise SystemExit(f"error: {python} not found; Rasa {RASA_VERSION} needs Python 3.8-3.10")
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, f"rasa=={RASA_VERSION}", "jieba"], check=True)


def require_venv(venv: Path) -> Path:
    rasa = venv / "bin" / "rasa"
    if not rasa.is_file():
        raise SystemExit(
            f"error: no Rasa in {venv} ({rasa} is missing). Create it with "
            f"`python bench/rasa_compare.py --install` (Python 3.10, rasa=={RASA_VERSION}, jieba; "
            "a few minutes, about 2.7 GB), or pass --venv DIR of an existing one."
        )
    return rasa


def versions(venv: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m, platform; "
        "print(json.dumps({p: m.version(p) for p in ('rasa', 'rasa-sdk', 'tensorflow', 'jieba')} "
        "| {'python': platform.python_version()}))"
    )
    rasa = json.loads(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    sdk = subprocess.run(
        [
            str(action_python()),
            "-c",
            "import importlib.metadata as m, platform; "
            "print(m.version('rasa-sdk'), platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return {
        "rasa_server": f"rasa {rasa['rasa']}, tensorflow {rasa['tensorflow']}, jieba {rasa['jieba']}, "
        f"Python {rasa['python']}",
        "action_server": f"rasa-sdk {sdk[0]}, Python {sdk[1]}" if len(sdk) == 2 else "unknown",
    }


def action_python() -> Path:
    """The rasa-sdk venv of govbot (.venv-rasa), in this checkout or the main one."""
    for root in (REPO_ROOT, Path("/work/main")):
        candidate = root / ".venv-rasa" / "bin" / "python"
        if candidate.is_file():
            return candidate
    raise SystemExit("error: no .venv-rasa (govbot's action-server venv); build it with `make install`")


# -- the Rasa project ---------------------------------------------------------------------------


def intent_examples() -> dict[str, list[str]]:
    import yaml

    data = yaml.safe_load(NLU_DATA.read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for block in data.get("nlu") or []:
        if "intent" in block:
            lines = [ln.strip()[2:].strip() for ln in str(block["examples"]).splitlines()]
            out.setdefault(block["intent"], []).extend(ln for ln in lines if ln)
    return out


def write_project(project: Path, epochs: int, action_port: int) -> dict[str, int]:
    """config.yml, domain.yml, data/nlu.yml, data/rules.yml, endpoints.yml, credentials.yml."""
    import yaml

    intents = intent_examples()
    (project / "data").mkdir(parents=True, exist_ok=True)
    nlu = {
        "version": "3.1",
        "nlu": [{"intent": i, "examples": "".join(f"- {e}\n" for e in ex)} for i, ex in intents.items()],
    }
    rules = {
        "version": "3.1",
        "rules": [
            {"rule": f"answer {i} from govbot", "steps": [{"intent": i}, {"action": ACTION}]} for i in intents
        ],
    }
    domain = {
        "version": "3.1",
        "intents": list(intents),
        "actions": [ACTION],
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
    config = {
        "recipe": "default.v1",
        "assistant_id": "govbot-bench",
        "language": "zh",
        "pipeline": [
            {"name": "JiebaTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3},
            {"name": "DIETClassifier", "epochs": epochs, "entity_recognition": False},
        ],
        "policies": [{"name": "RulePolicy"}],
    }
    files = {
        "data/nlu.yml": nlu,
        "data/rules.yml": rules,
        "domain.yml": domain,
        "config.yml": config,
        "endpoints.yml": {"action_endpoint": {"url": f"http://127.0.0.1:{action_port}/webhook"}},
        "credentials.yml": {"rest": None},
    }
    for name, content in files.items():
        text = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
        (project / name).write_text(text, encoding="utf-8")
    return {i: len(ex) for i, ex in intents.items()}


def train(rasa: Path, project: Path, log: Path) -> float:
    started = time.perf_counter()
    command = [str(rasa), "train", "--fixed-model-name", "bench", "--out", "models"]
    with log.open("wb") as out:
        done = subprocess.run(
            command, cwd=project, env={**os.environ, **QUIET_RASA}, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0 or not (project / "models" / "bench.tar.gz").is_file():
        raise SystemExit(f"error: rasa train failed ({done.returncode}); see {log}")
    return time.perf_counter() - started


# -- processes ----------------------------------------------------------------------------------


@contextlib.contextmanager
def started(
    name: str, command: list[str], cwd: Path, env: dict[str, str], ready: str, log: Path, timeout: float
) -> Iterator[int]:
    """The command in its own process group; yields its pid once GET `ready` answers 200."""
    import httpx

    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise SystemExit(f"error: {name} exited ({process.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"error: {name} not ready after {timeout} s; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready, timeout=5).status_code == 200:
                    break
            time.sleep(1)
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[2]) == pgid:
            pids.append(int(entry.name))
    return sorted(pids)


def status_fields(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (ln.partition(":") for ln in lines)}


def memory(pgid: int) -> dict[str, Any]:
    """VmRSS and VmHWM (MiB) of every process in the group, their sums, and OS thread counts."""
    processes = []
    for pid in group_pids(pgid):
        fields = status_fields(pid)
        processes.append(
            {
                "pid": pid,
                "name": fields.get("Name", "?"),
                "rss_mib": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
                "hwm_mib": round(int(fields["VmHWM"].split()[0]) / 1024, 1),
                "threads": int(fields.get("Threads", "0")),
            }
        )
    return {
        "rss_mib": round(sum(p["rss_mib"] for p in processes), 1),
        "hwm_mib": round(sum(p["hwm_mib"] for p in processes), 1),
        "processes": processes,
    }


def thread_env(pid: int) -> dict[str, str]:
    pairs = dict(
        item.decode().split("=", 1)
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if b"=" in item
    )
    return {k: pairs.get(k, "(unset)") for k in THREAD_VARS}


# -- questions and timing -----------------------------------------------------------------------


def kb_questions(count: int) -> list[str]:
    from bot.evaluation import read_eval_tsv

    seen: dict[str, None] = {}
    for path in (DEV_QUESTIONS, COLLOQUIAL):
        for row in read_eval_tsv(path):
            if row.kind == "kb":
                seen.setdefault(row.question, None)
    questions = list(seen)[:count]
    if len(questions) < count:
        print(f"note: only {len(questions)} kb questions found", file=sys.stderr)
    return questions


def write_govbot_config(directory: Path) -> Path:
    import yaml

    from core.settings import DEFAULT_CONFIG

    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config["server"].update(rate_per_ip=10**6, rate_per_session=10**6)
    config["index"]["embedder"]["query_cache_size"] = 0
    path = directory / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def govbot_runtime(config: Path) -> dict[str, Any]:
    """The thread settings govbot applies in-process (core/runtime.py), which /proc/PID/environ,
    read at exec, does not show: config.yml's runtime section and server.engines."""
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    return {**data["runtime"], "engines": data["server"]["engines"], "workers": 1}


def timed_post(http: Any, url: str, body: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    response = http.post(url, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def has_text(messages: Any) -> bool:
    return isinstance(messages, list) and any(isinstance(m, dict) and m.get("text") for m in messages)


def measure(urls: dict[str, str], questions: list[str], warmup: int) -> dict[str, Any]:
    import httpx

    run = uuid.uuid4().hex[:8]
    times: dict[str, dict[str, list[float]]] = {s: {"parse": [], "answer": []} for s in urls}
    empty: Counter[str] = Counter()
    intents: dict[str, Counter[str]] = {s: Counter() for s in urls}
    both_ask_service = 0
    with httpx.Client(timeout=120) as http:
        for n, text in enumerate(questions):
            order = list(urls) if n % 2 == 0 else list(reversed(urls))
            picked: dict[str, str] = {}
            for system in order:
                elapsed, parsed = timed_post(http, f"{urls[system]}/model/parse", {"text": text})
                picked[system] = str((parsed.get("intent") or {}).get("name"))
                if n >= warmup:
                    times[system]["parse"].append(elapsed)
                    intents[system][picked[system]] += 1
            for system in order:
                body = {"sender": f"rasabench-{run}-{system}-{n}", "message": text}
                elapsed, messages = timed_post(http, f"{urls[system]}/webhooks/rest/webhook", body)
                if n >= warmup:
                    times[system]["answer"].append(elapsed)
                    empty[system] += not has_text(messages)
            if n >= warmup and all(v == "ask_service" for v in picked.values()):
                both_ask_service += 1
    return {
        "timed": len(questions) - warmup,
        "latency": {s: {k: latency_summary(v) for k, v in t.items()} for s, t in times.items()},
        "raw_ms": {s: {k: [round(x, 2) for x in v] for k, v in t.items()} for s, t in times.items()},
        "empty_answers": {s: empty[s] for s in urls},
        "intents": {s: dict(c.most_common()) for s, c in intents.items()},
        "both_ask_service": both_ask_service,
    }


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Any:
    parser = docstring_parser(__doc__)
    parser.add_argument("--install", action="store_true", help="create --venv with Rasa first")
    parser.add_argument("--install-only", action="store_true", help="with --install: stop after it")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the Rasa venv (Python 3.10)")
    parser.add_argument("--python310", default=PYTHON310, help="Python 3.10 for --install")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/speed_gd"), help="prepared govbot data")
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT, help="the Rasa project (written)")
    parser.add_argument("--retrain", action="store_true", help="train even when the project has a model")
    parser.add_argument("--epochs", type=int, default=50, help="DIETClassifier epochs")
    parser.add_argument("--limit", type=int, default=100, help="timed questions")
    parser.add_argument("--warmup", type=int, default=5, help="untimed questions first")
    parser.add_argument("--port", type=int, default=8791, help="govbot; +1 the action server, +2 Rasa")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    parser.add_argument("--out", help="write the results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.install:
        install(args.venv, args.python310)
        if args.install_only:
            return
    rasa = require_venv(args.venv)
    require_shared(DEV_QUESTIONS)
    if not (args.data_dir / "index").is_dir():
        raise SystemExit(f"error: {args.data_dir} is not a prepared govbot data directory (no index/)")
    env_info = environment()
    project = args.project.resolve()
    gport, aport, rport = args.port, args.port + 1, args.port + 2
    counts = write_project(project, args.epochs, aport)
    model = project / "models" / "bench.tar.gz"
    stamp = project / "models" / "trained_with.json"
    wanted = {"epochs": args.epochs, "nlu": NLU_DATA.read_text(encoding="utf-8")}
    fresh = model.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == wanted
    train_s = None
    if args.retrain or not fresh:
        train_s = round(train(rasa, project, project / "train.log"), 1)
        stamp.write_text(json.dumps(wanted, ensure_ascii=False))
    questions = kb_questions(args.warmup + args.limit)

    with tempfile.TemporaryDirectory(prefix="rasabench-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        shutil.copytree(args.data_dir, data_dir)
        gconfig = write_govbot_config(work)
        govbot = Path(sys.executable).with_name("govbot")
        genv = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(REPO_ROOT)}
        for key in ("GOVBOT_DATA_DIR", "REDIS_URL"):
            genv.pop(key, None)
        gcmd = [str(govbot), "--data-dir", str(data_dir), "--config", str(gconfig), "serve"]
        gcmd += ["--host", "127.0.0.1", "--port", str(gport), "--workers", "1"]
        aenv = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GOVBOT_API_URL": f"http://127.0.0.1:{gport}"}
        acmd = [str(action_python()), "-m", "rasa_sdk", "--actions", "connectors.rasa_actions"]
        acmd += ["--port", str(aport)]
        renv = {**os.environ, **QUIET_RASA}
        rcmd = [str(rasa), "run", "--enable-api", "--model", str(model), "--endpoints", "endpoints.yml"]
        rcmd += ["--credentials", "credentials.yml", "--interface", "127.0.0.1", "--port", str(rport)]
        logs = project / "logs"
        logs.mkdir(exist_ok=True)
        timeout = args.start_timeout
        with (
            started(
                "govbot serve",
                gcmd,
                REPO_ROOT,
                genv,
                f"http://127.0.0.1:{gport}/readyz",
                logs / "govbot.log",
                timeout,
            ) as gpid,
            started(
                "the action server",
                acmd,
                REPO_ROOT,
                aenv,
                f"http://127.0.0.1:{aport}/health",
                logs / "actions.log",
                timeout,
            ) as apid,
            started(
                "rasa run",
                rcmd,
                project,
                renv,
                f"http://127.0.0.1:{rport}/status",
                logs / "rasa.log",
                timeout,
            ) as rpid,
        ):
            load_start = [round(x, 2) for x in os.getloadavg()]
            urls = {"govbot": f"http://127.0.0.1:{gport}", "rasa": f"http://127.0.0.1:{rport}"}
            result = measure(urls, questions, args.warmup)
            load_end = [round(x, 2) for x in os.getloadavg()]
            result["memory"] = {"govbot": memory(gpid), "rasa": memory(rpid), "action_server": memory(apid)}
            result["thread_env"] = {"govbot": thread_env(gpid), "rasa": thread_env(rpid)}
            result["govbot_runtime"] = govbot_runtime(gconfig)
    result.update(
        environment=env_info,
        versions=versions(args.venv),
        load_at_measure_start=load_start,
        load_at_measure_end=load_end,
        rasa_training={"epochs": args.epochs, "examples_per_intent": counts, "train_s": train_s},
    )
    write_json(args.out, result)
    print(report(result))


def report(r: dict[str, Any]) -> str:
    lat, mem = r["latency"], r["memory"]
    rows = []
    for kind, label in (("parse", "POST /model/parse"), ("answer", "POST /webhooks/rest/webhook")):
        for q in ("p50_ms", "p95_ms"):
            g, s = lat["govbot"][kind][q], lat["rasa"][kind][q]
            rows.append([f"{label} {q[:3]} ms", f"{g:.1f}", f"{s:.1f}", f"{s / g:.2f}x"])
    g_rss, r_rss = mem["govbot"]["rss_mib"], mem["rasa"]["rss_mib"]
    rows.append(["server RSS after the run, MiB", f"{g_rss:.0f}", f"{r_rss:.0f}", f"{r_rss / g_rss:.2f}x"])
    rows.append(["(Rasa's action server RSS, MiB)", "", f"{mem['action_server']['rss_mib']:.0f}", ""])
    out = [
        header("govbot vs Rasa 3.6.21 (issue 9)", r["environment"]),
        markdown_table(["measure", "govbot", f"Rasa {RASA_VERSION}", "Rasa / govbot"], rows),
        "",
        f"timed questions: {r['timed']} (after warm-up); empty answers: {r['empty_answers']}; "
        f"load average during measurement: {r['load_at_measure_start']} -> {r['load_at_measure_end']}",
        f"intents picked: {r['intents']}; both ask_service: {r['both_ask_service']}",
        f"thread settings in the environment: {r['thread_env']}; govbot's config: {r['govbot_runtime']}",
        f"threads: govbot {[p['threads'] for p in mem['govbot']['processes']]}, "
        f"rasa {[p['threads'] for p in mem['rasa']['processes']]}",
        f"versions: {r['versions']}; Rasa training: {r['rasa_training']}",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
