"""Two `govbot serve` processes with separate data directories sharing PostgreSQL and Redis:
one knowledge base, every index kept in step, one conversation across both.

Changes go in through the first machine's data directory (`govbot kb import|unpublish`) and
must reach the second machine's answers within DEADLINE seconds (a bound, polled; the
measured delay is printed for the report).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core.crypto import new_key
from core.settings import DEFAULT_CONFIG, load_settings
from core.vocab import COMPLETED
from tests.reports.conftest import new_ticket, walk
from tests.utils.redis_server import REDIS_URL, private_redis
from tests.utils.servers import free_port, start_serve_process, stop_process, wait_until_up
from tests.utils.ticketdb import pg_schema_url
from tickets.service import TicketDesk

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 5.0 * float(os.environ.get("GOVBOT_TEST_DEADLINE_FACTOR", "3"))  # generous on a busy CI box
FAQ_ID = "faq-two-machines"
QUESTION = "无人机夜间试飞备案去哪里办理？"


def _machine_dir(prepared_dir: Path, target: Path) -> Path:
    """A data directory with only the trained models: no knowledge base, no index."""
    target.mkdir()
    shutil.copytree(prepared_dir / "models", target / "models")
    return target


@pytest.fixture(scope="module")
def machines(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("two-machines")
    with pg_schema_url() as db_url, private_redis() as (_redis, prefix):
        config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        config["server"]["redis_prefix"] = prefix
        config["index"]["sync_poll_seconds"] = 30  # NOTIFY must do the work, not the poll
        config["tickets"]["sweep_interval_seconds"] = 0
        config_path = tmp / "config.yml"
        config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "GOVBOT_CONFIG": str(config_path),
            "OMP_WAIT_POLICY": "PASSIVE",
            "GOVBOT_DATA_KEY": new_key(),  # one data key for all machines, as deployment.md says
        }
        env.pop("GOVBOT_DATA_DIR", None)
        dirs = [_machine_dir(prepared_dir, tmp / name) for name in ("a", "b")]
        urls, processes = [], []
        try:
            for n, data_dir in enumerate(dirs):
                port = free_port()
                process = start_serve_process(data_dir, port, env, tmp / f"serve-{n}.log", ROOT)
                processes.append(process)
                url = f"http://127.0.0.1:{port}"
                started = time.monotonic()
                wait_until_up(f"{url}/readyz", timeout=600, process=process)
                print(f"machine {n} ready in {time.monotonic() - started:.1f} s")
                urls.append(url)
            yield {"urls": urls, "dirs": dirs, "env": env, "logs": tmp}
        finally:
            for process in processes:
                stop_process(process)


def _govbot(machine: dict[str, Any], data_dir: Path, *args: str) -> None:
    command = [sys.executable, "-m", "cli.main", "--data-dir", str(data_dir), *args]
    done = subprocess.run(command, cwd=ROOT, env=machine["env"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def _ask(url: str, text: str, sid: str | None = None) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/api/v1/chat", json={"session_id": sid or uuid.uuid4().hex, "text": text}, timeout=60
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _top_id(url: str, text: str) -> str | None:
    sources = _ask(url, text)["sources"]
    return sources[0]["id"] if sources else None


def _within_deadline(check: Any) -> float:
    """Seconds until `check()` held; fails after DEADLINE."""
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE} s")


def test_both_machines_serve_one_knowledge_base(machines: dict[str, Any]) -> None:
    first, second = machines["urls"]
    states = [httpx.get(f"{url}/readyz", timeout=30).json() for url in (first, second)]
    assert states[0]["kb_items"] == states[1]["kb_items"] > 0
    assert all(s["index_current"] for s in states), states
    assert states[0]["index_version"] == states[1]["index_version"]


def test_an_import_and_an_unpublish_reach_the_other_machine(machines: dict[str, Any], tmp_path: Path) -> None:
    first, second = machines["urls"]
    assert _top_id(second, QUESTION) != FAQ_ID
    faqs = tmp_path / "faq.yml"
    faqs.write_text(
        yaml.safe_dump(
            {"faqs": [{"id": FAQ_ID, "question": QUESTION, "answer": "向市交通运输局提交夜间试飞备案表。"}]},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    # --sample: a test record beside the bundled sample, which a real import would replace
    _govbot(machines, machines["dirs"][0], "kb", "import", str(faqs), "--sample")
    seconds = _within_deadline(lambda: _top_id(second, QUESTION) == FAQ_ID)
    print(f"import answered by the other machine after {seconds:.2f} s")
    assert _top_id(first, QUESTION) == FAQ_ID
    ready = httpx.get(f"{second}/readyz", timeout=30).json()
    assert ready["index_current"] is True
    # one item of ~140: applied to the served index, not a rebuild
    assert ready["last_sync"]["path"] == "incremental", ready["last_sync"]
    assert (ready["last_sync"]["changed"], ready["last_sync"]["removed"]) == (1, 0)

    _govbot(machines, machines["dirs"][0], "kb", "unpublish", FAQ_ID)
    seconds = _within_deadline(lambda: _top_id(second, QUESTION) != FAQ_ID)
    print(f"unpublish gone from the other machine after {seconds:.2f} s")
    assert _top_id(first, QUESTION) != FAQ_ID
    last = httpx.get(f"{second}/readyz", timeout=30).json()["last_sync"]
    assert (last["path"], last["changed"], last["removed"]) == ("incremental", 0, 1), last


def test_a_conversation_alternating_between_machines_keeps_its_context(machines: dict[str, Any]) -> None:
    first, second = machines["urls"]
    sid = uuid.uuid4().hex
    opened = _ask(first, "普通护照首次申领怎么办", sid)
    assert opened["action"] == "answer"
    follow = _ask(second, "需要什么材料？", sid)
    assert follow["action"] == "answer" and follow["item_id"] == opened["item_id"]
    again = _ask(first, "在哪里办？", sid)
    assert again["item_id"] == opened["item_id"]


def test_a_promoted_reply_reaches_the_other_machine(
    machines: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor promotes a closed ticket's reply on the first machine (`govbot tickets
    promote-faq`); the second answers with it, by the same store write and version bump."""
    first, second = machines["urls"]
    question, answer = (
        "共享单车乱停放堵住盲道找谁处理？",
        "由所在区城市管理部门督促运营企业清理，可拨打12345反映。",
    )
    for name in ("DATABASE_URL", "GOVBOT_DATA_KEY", "GOVBOT_CONFIG"):
        monkeypatch.setenv(name, machines["env"][name])
    desk = TicketDesk(load_settings(data_dir=machines["dirs"][0]))
    try:
        ticket_no = new_ticket(desk, "共享单车堵盲道")
        walk(desk, ticket_no, COMPLETED, reply=answer)
    finally:
        desk.close()
    before = _ask(second, question)
    assert answer not in before["reply"]
    _govbot(machines, machines["dirs"][0], "tickets", "promote-faq", ticket_no, "--question", question)
    seconds = _within_deadline(lambda: answer in _ask(second, question)["reply"])
    print(f"promoted reply answered by the other machine after {seconds:.2f} s")
    assert answer in _ask(first, question)["reply"]
