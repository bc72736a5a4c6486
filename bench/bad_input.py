"""Robustness: what the assistant and `govbot kb import` do with bad input.

What it measures, in a fresh data directory prepared with cli.main.prepare_all
(the bundled sample knowledge base, its index, trained models):

  messages  empty, whitespace, 20,000 characters, control characters, emoji only,
            English only, 5,000 digits, random bytes decoded as text, SQL-injection
            look-alike, a long line of punctuation and a few more. Each goes through
            Assistant.handle() in-process (exception or not, action, intent,
            latency_ms, whether the reply survives JSON encoding) and through
            `govbot ask TEXT --json` as a subprocess (exit code, traceback or not,
            action). A NUL cannot travel in argv, so the CLI gets it removed; random
            bytes reach the CLI as raw argv bytes (Python decodes them with
            surrogateescape, as it would for a real shell user).
  imports   malformed files through `govbot kb import` (subprocess): truncated
            JSONL, binary junk named .pdf/.docx, YAML with a tab error, empty files,
            JSON of the wrong shape, an unknown suffix, and a truncated slice of the
            real Guangdong catalog when ../shared is present (its complete records
            are kept by design). For each: exit code, traceback or not, the message,
            and the knowledge-base item count before and after against the expected
            change (0 unless good records are in the file).

"crash" means an uncaught exception in-process, or a traceback / an exit code
other than 0, 1 or 2 from the CLI. The data directory is a new folder under
var/bench (removed afterwards unless --keep) or --data-dir (empty or absent).
Unlike the other benchmarks this one needs no ../shared (it only adds a case). Run::

    .venv/bin/python bench/bad_input.py --out bench/results/bad_input.json
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    BENCH_VAR,
    CATALOG,
    Stopwatch,
    docstring_parser,
    environment,
    header,
    markdown_table,
    write_json,
)

GOVBOT = Path(sys.executable).with_name("govbot")


def _garbage(n: int) -> bytes:
    return random.Random(0).randbytes(n)


def messages() -> list[tuple[str, str]]:
    """(name, text) pairs; texts may hold NULs and lone surrogates on purpose."""
    return [
        ("empty string", ""),
        ("whitespace only", " \t\n\u3000\r\n   "),
        ("20,000 characters", ("我想问一下护照过期了怎么换新的，需要带什么材料？" * 900)[:20000]),
        (
            "control characters",
            "".join(chr(i) for i in range(32)) + "护照\x07怎么\x1b[31m办\x7f\u200b\u202e\ufeff",
        ),
        ("emoji only", "😀🙏🏻👍🎉🇨🇳❤️‍🔥"),
        ("English only", "How do I renew my passport and what documents do I need?"),
        ("5,000 digits", ("1234567890" * 500)),
        ("garbage bytes (utf-8, replace)", _garbage(3000).decode("utf-8", errors="replace")),
        ("garbage bytes (surrogateescape)", _garbage(3000).decode("utf-8", errors="surrogateescape")),
        ("garbage bytes (gb18030, replace)", _garbage(3000).decode("gb18030", errors="replace")),
        ("SQL injection look-alike", "护照'; DROP TABLE items; -- \" OR 1=1 -- UNION SELECT * FROM sessions"),
        ("HTML / script", "<script>alert('x')</script><img src=x onerror=alert(1)>居住证怎么办"),
        ("long line of punctuation", "，。！？、；：…—《》“”!?.,;:()[]{}" * 400),
        ("fillers only", "嗯嗯嗯 那个那个 呃 就是说"),
    ]


@dataclass
class ImportCase:
    name: str
    filename: str
    content: bytes
    expected_delta: int


def import_cases() -> list[ImportCase]:
    rng = random.Random(1)
    guide = json.dumps({"id": "t-1", "name": "测试事项", "conditions": "无"}, ensure_ascii=False)
    tab_yaml = ("guides:\n  - id: tab-1\n    name: 制表符事项\n\tconditions: 这一行用制表符缩进\n").encode()
    cases = [
        ImportCase("truncated JSONL (no complete record)", "truncated.jsonl", guide[:25].encode(), 0),
        ImportCase("binary junk named .pdf", "junk.pdf", rng.randbytes(4096), 0),
        ImportCase("binary junk named .docx", "junk.docx", rng.randbytes(4096), 0),
        ImportCase("PDF header then junk", "fake.pdf", b"%PDF-1.7\n" + rng.randbytes(2048), 0),
        ImportCase("YAML with a tab error", "tab.yml", tab_yaml, 0),
        ImportCase("empty .jsonl", "empty.jsonl", b"", 0),
        ImportCase("empty .yml", "empty.yml", b"", 0),
        ImportCase("empty .txt", "empty.txt", b"", 0),
        ImportCase("empty .docx", "empty.docx", b"", 0),
        ImportCase("JSON of the wrong shape", "shape.jsonl", b'[1, 2, 3]\n"text"\n{"foo": 1}\n', 0),
        ImportCase("UTF-16 YAML", "utf16.yml", "guides:\n  - id: u16\n    name: 事项\n".encode("utf-16"), 0),
        ImportCase("unknown suffix", "data.xyz", b"hello", 0),
    ]
    if CATALOG.is_file():
        with CATALOG.open("rb") as handle:
            lines = [handle.readline() for _ in range(4)]
        sliced = b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2]
        names = {json.loads(line)["matter_name"] for line in lines[:3]}
        cases.append(
            ImportCase("real catalog, last record cut off", "gd_truncated.jsonl", sliced, len(names))
        )
    return cases


def _crashed(code: int, stderr: str) -> bool:
    return "Traceback (most recent call last)" in stderr or code not in (0, 1, 2)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:140] if lines else ""


def _reply_action(stdout: str) -> str:
    """The action of the last JSON line `govbot ask --json` printed, '-' when there is none."""
    try:
        return str(json.loads(stdout.strip().splitlines()[-1])["action"])
    except (ValueError, IndexError, KeyError, TypeError):
        return "-"


def govbot(data_dir: Path, args: list[str | bytes], timeout: float) -> tuple[int, str, str, float]:
    command: list[str | bytes] = [str(GOVBOT), "--data-dir", str(data_dir), *args]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return -9, "", f"timed out after {timeout}s", time.perf_counter() - started
    out = done.stdout.decode("utf-8", errors="replace")
    err = done.stderr.decode("utf-8", errors="replace")
    return done.returncode, out, err, time.perf_counter() - started


def check_message(assistant: Any, name: str, text: str, data_dir: Path, cli: bool, timeout: float):
    from bot.messages import UserMessage

    row: dict[str, Any] = {"input": name, "chars": len(text)}
    try:
        with Stopwatch() as sw:
            reply = assistant.handle(UserMessage(text=text, session_id=f"bad-{name}"))
        row.update(
            exception=None,
            action=reply.action,
            intent=reply.intent,
            latency_ms=reply.latency_ms,
            wall_ms=round(sw.seconds * 1000, 1),
            truncated_notice=bool(reply.notices),
            sources=len(reply.sources),
        )
        try:
            json.dumps(reply.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
            row["json_ok"] = True
        except (UnicodeError, ValueError) as exc:
            row["json_ok"] = f"{type(exc).__name__}: {exc}"[:120]
    except Exception as exc:  # the point is to see it
        row.update(exception=f"{type(exc).__name__}: {exc}"[:160], action="-", json_ok="-")
    if cli:
        arg: str | bytes = text.replace("\x00", "")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in arg):
            arg = arg.encode("utf-8", errors="surrogateescape")
        code, out, err, seconds = govbot(data_dir, ["ask", arg, "--json"], timeout)
        action = _reply_action(out)
        row["cli"] = {
            "exit": code,
            "crash": _crashed(code, err),
            "action": action,
            "seconds": round(seconds, 2),
            "stderr_tail": _last_line(err),
        }
    return row


def check_import(case: ImportCase, folder: Path, data_dir: Path, kb: Any, timeout: float):
    path = folder / case.filename
    path.write_bytes(case.content)
    before = kb.count()
    code, _out, err, seconds = govbot(data_dir, ["kb", "import", str(path)], timeout)
    after = kb.count()
    delta = after - before
    crash = _crashed(code, err)
    return {
        "file": case.name,
        "name": case.filename,
        "bytes": len(case.content),
        "exit": code,
        "crash": crash,
        "items_before": before,
        "items_after": after,
        "expected_delta": case.expected_delta,
        "ok": not crash and delta == case.expected_delta,
        "seconds": round(seconds, 2),
        "message": _last_line(err),
    }


def report(res: dict[str, Any], env: dict[str, Any]) -> str:
    msg_rows = []
    for r in res["messages"]:
        cli = r.get("cli") or {}
        msg_rows.append(
            [
                r["input"],
                r["chars"],
                "crash: " + r["exception"] if r["exception"] else "ok",
                r["action"],
                r.get("intent", "-"),
                f"{r['latency_ms']:.1f}" if "latency_ms" in r else "-",
                "yes" if r.get("truncated_notice") else "",
                "ok" if r["json_ok"] is True else str(r["json_ok"]),
                cli.get("exit", "-"),
                ("CRASH" if cli.get("crash") else "ok") if cli else "-",
                cli.get("action", "-"),
            ]
        )
    imp_rows = [
        [
            r["file"],
            r["name"],
            r["exit"],
            "CRASH" if r["crash"] else "no",
            f"{r['items_before']} → {r['items_after']}",
            f"{r['expected_delta']:+d}",
            "ok" if r["ok"] else "FAIL",
            r["seconds"],
            r["message"],
        ]
        for r in res["imports"]
    ]
    crashes = sum(1 for r in res["messages"] if r["exception"] or (r.get("cli") or {}).get("crash"))
    failed = sum(1 for r in res["imports"] if not r["ok"])
    health = res.get("health", {})
    parts = [
        header("Bad input: messages and malformed imports", env),
        f"Sample knowledge base: {res['items']} items; preparation took {res['prepare_s']} s.",
        "",
        "### Messages (in-process Assistant.handle, then `govbot ask TEXT --json`)",
        "",
        markdown_table(
            [
                "input",
                "chars",
                "in-process",
                "action",
                "intent",
                "latency ms",
                "truncation notice",
                "JSON",
                "CLI exit",
                "CLI crash",
                "CLI action",
            ],
            msg_rows,
        ),
        "",
        "### Malformed imports (`govbot kb import FILE`)",
        "",
        markdown_table(
            [
                "case",
                "file",
                "exit",
                "crash",
                "items",
                "expected change",
                "verdict",
                "seconds",
                "last stderr line",
            ],
            imp_rows,
        ),
        "",
        f"Message crashes: {crashes} of {len(res['messages'])}; import cases failing: {failed} of "
        f"{len(res['imports'])}. After all imports, `govbot ask 护照怎么办 --json` exited "
        f"{health.get('exit', '-')} with action {health.get('action', '-')}.",
    ]
    return "\n".join(parts) + "\n"


def run(args: argparse.Namespace) -> int:
    from bot.assistant import Assistant
    from bot.messages import UserMessage
    from cli.main import prepare_all
    from core.settings import load_settings

    env = environment()
    if not CATALOG.is_file():
        print(f"note: {CATALOG} not found; the real-catalog import case is left out", file=sys.stderr)
    if args.data_dir:
        data_dir = Path(args.data_dir).resolve()
        if data_dir.exists() and any(data_dir.iterdir()):
            raise SystemExit(f"error: {data_dir} is not empty; bad_input.py needs a fresh data directory")
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        BENCH_VAR.mkdir(parents=True, exist_ok=True)
        data_dir = Path(tempfile.mkdtemp(prefix="bad-input-", dir=BENCH_VAR))
    files = Path(tempfile.mkdtemp(prefix="govbot-bad-files-"))
    res: dict[str, Any] = {"data_dir": str(data_dir)}
    try:
        assistant = Assistant(load_settings(None, data_dir))
        print(f"preparing {data_dir} (sample KB, index, training) …", file=sys.stderr)
        with Stopwatch() as prep:
            prepare_all(assistant, quiet=True)
        res["prepare_s"] = round(prep.seconds, 1)
        res["items"] = assistant.kb.count()
        assistant.handle(UserMessage(text="你好", session_id="bad-warmup"))  # warm-up
        res["messages"] = []
        for name, text in messages():
            print(f"  message: {name}", file=sys.stderr)
            res["messages"].append(
                check_message(assistant, name, text, data_dir, not args.no_cli, args.timeout)
            )
        res["imports"] = []
        for case in import_cases():
            print(f"  import: {case.name}", file=sys.stderr)
            res["imports"].append(check_import(case, files, data_dir, assistant.kb, args.timeout))
        code, out, _err, _s = govbot(data_dir, ["ask", "护照怎么办", "--json"], args.timeout)
        res["health"] = {"exit": code, "action": _reply_action(out)}
        assistant.close()
    finally:
        shutil.rmtree(files, ignore_errors=True)
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    write_json(args.out, {"environment": env, **res})  # kept even if the report fails
    text = report(res, env)
    print(text)
    write_json(args.out, {"environment": env, **res, "markdown": text})
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = docstring_parser(__doc__)
    parser.add_argument(
        "--data-dir",
        help="an empty or absent folder to use (default: a new folder under var/bench, removed "
        "afterwards unless --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the default data directory")
    parser.add_argument(
        "--no-cli", action="store_true", help="skip the `govbot ask` subprocess for each message"
    )
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds per subprocess (default: %(default)s)"
    )
    parser.add_argument("--out", help="write JSON results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
