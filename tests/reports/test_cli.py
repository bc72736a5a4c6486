"""`govbot report daily` and `govbot tickets promote-faq` over a data directory's ticket database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import load_settings
from tests.reports.conftest import new_ticket
from tests.utils.ticketdb import FakeClock
from tickets.service import TicketDesk


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    folder = tmp_path / "data"
    desk = TicketDesk(load_settings(data_dir=folder), clock=FakeClock())
    desk.migrate()
    new_ticket(desk, "小区路灯坏了")
    new_ticket(desk, "<b>噪音</b>扰民", category="环境保护", channel="web")
    desk.close()
    return folder


def test_daily_report_as_json_and_as_a_page(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app, ["--data-dir", str(data_dir), "report", "daily", "--date", "2026-11-23", "--json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["received"] == 2 and {c["label"]: c["count"] for c in data["by_channel"]} == {
        "hotline": 1,
        "web": 1,
    }
    page = tmp_path / "daily.html"
    done = runner.invoke(
        app, ["--data-dir", str(data_dir), "report", "daily", "--date", "2026-11-23", "--out", str(page)]
    )
    assert done.exit_code == 0, done.output
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and "&lt;b&gt;噪音&lt;/b&gt;扰民" in html and "<b>噪音" not in html
    text = runner.invoke(app, ["--data-dir", str(data_dir), "report", "daily", "--date", "2026-11-23"])
    assert "受理 2 件" in text.stdout and "城乡建设 1" in text.stdout


def test_bad_date_and_open_ticket_are_refused(data_dir: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["--data-dir", str(data_dir), "report", "daily", "--date", "2026-13-01"])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output
    refused = runner.invoke(app, ["--data-dir", str(data_dir), "tickets", "promote-faq", "20261123-0001"])
    assert refused.exit_code == 1 and "only closed tickets" in refused.output
