"""`govbot tickets ...` and `govbot users add` through typer's CliRunner, on both databases."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from core import crypto

Invoke = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, password: str | None = None) -> Result:
        env = {"COLUMNS": "200", "DATABASE_URL": db_url}
        if password is not None:
            env["GOVBOT_USER_PASSWORD"] = password
        return runner.invoke(
            app, ["--data-dir", str(tmp_path / "data"), *args], env=env, catch_exceptions=False
        )

    return invoke


def test_ticket_commands(run: Invoke) -> None:
    created = run(
        "tickets",
        "create",
        "--title",
        "楼道燃气泄漏",
        "--content",
        "三楼楼道燃气泄漏味道很大",
        "--phone",
        "13812345678",
        "--category",
        "城乡建设",
    )
    assert created.exit_code == 0, created.output
    ticket = json.loads(created.stdout)
    assert ticket["urgency"] == "urgent" and ticket["department"] == "市住房城乡建设局"
    no = ticket["ticket_no"]

    listed = run("tickets", "list")
    assert no in listed.stdout and "楼道燃气泄漏" in listed.stdout

    refused = run("tickets", "transition", no, "已办结")
    assert refused.exit_code == 1 and "allowed from 待受理: 已受理、已合并" in refused.output
    moved = run("tickets", "transition", no, "已受理", "--actor", "王坐席")
    assert moved.exit_code == 0 and f"{no}: 已受理" in moved.stdout

    shown = json.loads(run("tickets", "show", no).stdout)
    assert shown["phone"] == "138****5678"
    assert [a["action"] for a in shown["audit"]] == ["create", "accept"]
    assert shown["audit"][1]["actor"] == "王坐席"

    swept = json.loads(run("tickets", "sweep").stdout)
    assert swept["checked"] == 1

    today = no[:4] + "-" + no[4:6] + "-" + no[6:8]
    stats = json.loads(run("tickets", "stats", "--from", today, "--to", today).stdout)
    assert stats["received"] == 1


def test_bad_input_is_reported(run: Invoke) -> None:
    bad_phone = run("tickets", "create", "--title", "t", "--content", "c", "--phone", "123")
    assert bad_phone.exit_code == 2 and "phone" in bad_phone.output
    missing = run("tickets", "show", "20990101-0001")
    assert missing.exit_code == 1 and "no ticket 20990101-0001" in missing.output


def test_users_add(run: Invoke) -> None:
    added = run(
        "users", "add", "li", "--role", "handler", "--department", "市民政局", password="long-enough-1"
    )
    assert added.exit_code == 0 and "user li added" in added.stdout
    again = run(
        "users", "add", "li", "--role", "handler", "--department", "市民政局", password="long-enough-1"
    )
    assert again.exit_code == 1 and "exists" in again.output
    no_department = run("users", "add", "wu", "--role", "handler", password="long-enough-1")
    assert no_department.exit_code == 1 and "department" in no_department.output


def test_help_texts() -> None:
    result = CliRunner().invoke(app, ["tickets", "--help"], env={"COLUMNS": "200"})
    for command in ("create", "list", "show", "transition", "sweep", "stats"):
        assert command in result.stdout


def test_keys_new_rotate_and_private_files(db_url: str, tmp_path: Path) -> None:
    """`keys new` prints a usable key; after the key changes, `keys rotate` reseals the tickets
    (once); the data dir's key file, SQLite files and written exports are 0600."""
    runner = CliRunner()
    data = tmp_path / "data"

    def invoke(*args: str, **env: str) -> Result:
        return runner.invoke(
            app,
            ["--data-dir", str(data), *args],
            env={"COLUMNS": "200", "DATABASE_URL": db_url, **env},
            catch_exceptions=False,
        )

    first, second = invoke("keys", "new").stdout.strip(), invoke("keys", "new").stdout.strip()
    assert first != second and len(crypto.decode_key(first)) == 32
    created = invoke(
        "tickets",
        "create",
        "--title",
        "路灯坏了",
        "--content",
        "路灯坏了",
        "--phone",
        "13812345678",
        GOVBOT_DATA_KEY=first,
    )
    assert created.exit_code == 0, created.output
    rotated = invoke("keys", "rotate", GOVBOT_DATA_KEY=second, GOVBOT_DATA_KEYS_OLD=first)
    assert rotated.exit_code == 0 and "resealed 1 tickets" in rotated.stdout, rotated.output
    again = invoke("keys", "rotate", GOVBOT_DATA_KEY=second)  # the old key no longer needed
    assert "resealed 0 tickets" in again.stdout
    listed = invoke("tickets", "list", "--queue", "all", GOVBOT_DATA_KEY=second)
    assert listed.exit_code == 0 and "路灯坏了" in listed.stdout

    out = tmp_path / "report.html"
    assert invoke("report", "daily", "--out", str(out), GOVBOT_DATA_KEY=second).exit_code == 0
    swept = invoke("retention", "sweep", GOVBOT_DATA_KEY=second)
    assert json.loads(swept.stdout) == {
        "sessions_deleted": 0,
        "forms_wiped": 0,
        "unanswered_deleted": 0,
        "live_lines_deleted": 0,
    }
    private = [out, data / "sessions.sqlite"]  # the dev key file: test_encryption.py
    if db_url.startswith("sqlite"):
        private.append(Path(db_url.split("///", 1)[1]))
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
