"""`govbot calendar` (a month, a day, a deadline) and the coverage in `govbot config`, via CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from cli.main import app
from core.settings import DEFAULT_CONFIG

Invoke = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, config: Path | None = None) -> Result:
        options = ["--data-dir", str(tmp_path / "data")] + (["--config", str(config)] if config else [])
        return runner.invoke(app, [*options, *args], env={"COLUMNS": "200"}, catch_exceptions=False)

    return invoke


@pytest.fixture
def config_2027(tmp_path: Path) -> Path:
    """config.yml plus a 2027 schedule, as an operator adds it before the package has that year."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    raw["tickets"]["published_schedules"] = {
        2027: {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "makeup_workdays": ["2027-01-09"]}
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_month_lists_every_day_with_its_reason(run: Invoke) -> None:
    result = run("calendar", "2026-10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "官方日历已知至 2026-12-31" in lines[0]
    assert "2026-10-01 周四 休息  法定假日（国庆节）" in lines
    assert "2026-10-10 周六 上班  调休上班（国庆节）" in lines
    assert "2026-10-11 周日 休息  周末" in lines
    assert lines[-1] == "工作日 18 天，休息日 13 天"


def test_a_day_as_json(run: Invoke) -> None:
    result = run("calendar", "2026-10-10", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "date": "2026-10-10",
            "weekday": 6,
            "working": True,
            "reason": "official_workday",
            "name": "国庆节",
            "known": True,
        }
    ]


def test_a_day_after_the_known_calendar_says_it_is_estimated(run: Invoke) -> None:
    result = run("calendar", "2027-01-01")
    assert result.exit_code == 0, result.output
    assert "2027-01-01 周五 上班  工作日，日历未知：仅按周一至周五估算" in result.stdout


def test_the_deadline_the_desk_would_set(run: Invoke) -> None:
    result = run("calendar", "deadline", "--from", "2026-09-30 16:00", "--working-days", "2")
    assert result.exit_code == 0, result.output
    assert "受理 2026-09-30 16:00（周三），2 个工作日 → 截止 2026-10-09 16:00（周五）" in result.stdout
    assert "估算" not in result.stdout


def test_a_deadline_in_2027_is_estimated_unless_config_supplies_the_year(
    run: Invoke, config_2027: Path
) -> None:
    args = ("calendar", "deadline", "--from", "2026-12-28 10:00", "--working-days", "5", "--json")
    plain = json.loads(run(*args).stdout)
    assert (plain["deadline"], plain["estimated"]) == ("2027-01-04T10:00:00+08:00", True)
    supplied = json.loads(run(*args, config=config_2027).stdout)
    assert (supplied["deadline"], supplied["estimated"]) == ("2027-01-05T10:00:00+08:00", False)
    assert supplied["calendar"]["known_until"] == "2027-12-31"


@pytest.mark.parametrize("when", ["2026-13", "10/10", "tomorrow"])
def test_a_bad_date_is_refused(run: Invoke, when: str) -> None:
    assert run("calendar", when).exit_code == 2


def test_govbot_config_says_up_to_when_the_calendar_is_known(run: Invoke, config_2027: Path) -> None:
    shown = json.loads(run("config").stdout)
    assert shown["calendar"]["known_until"] == "2026-12-31"
    assert shown["tickets"]["official_calendar"] is True
    assert json.loads(run("config", config=config_2027).stdout)["calendar"]["known_until"] == "2027-12-31"
