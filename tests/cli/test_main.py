"""`govbot` commands through typer's CliRunner, against the prepared data directory."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from bot.assistant import Assistant
from cli.main import app, prepare_all
from core.settings import DEFAULT_CONFIG, load_settings
from knowledge.store import KnowledgeStore
from tests.utils.factories import write

REPLY_KEYS = {"action", "intent", "reply", "sources", "options", "category", "entities", "latency_ms"}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _run(runner: CliRunner, data_dir: Path | None, *args: str) -> Result:
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    return runner.invoke(app, [*prefix, *args], env={"COLUMNS": "200"}, catch_exceptions=False)


def _count(data_dir: Path) -> int:
    kb = KnowledgeStore(load_settings(data_dir=data_dir).kb_url)
    try:
        return kb.count()
    finally:
        kb.close()


# ------------------------------------------------------------------ ask


def test_ask_json(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "ask", "补办身份证需要什么材料", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    reply = json.loads(lines[0])
    assert set(reply) >= REPLY_KEYS
    assert reply["action"] == "answer"
    assert len(reply["sources"]) >= 5
    assert reply["item_id"] and reply["item_id"] not in reply["reply"]  # ids are for agents, not citizens
    assert reply["item_id"] == reply["sources"][0]["id"]  # the ranked list keeps them
    assert len(reply["citations"]) == 1 and reply["citations"][0]["title"] == reply["sources"][0]["title"]


def test_ask_plain_text(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "ask", "你好")
    assert result.exit_code == 0
    assert "您好" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_ask_data_dir_after_the_command(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, None, "ask", "转人工", "--json", "--data-dir", str(prepared_dir))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["action"] == "handoff"


def test_ask_batch_prints_one_json_line_per_input_line(
    runner: CliRunner, prepared_dir: Path, tmp_path: Path
) -> None:
    questions = ["补办身份证需要什么材料", "", "你好", "楼下烧烤店油烟噪音扰民晚上十二点还在吵"]
    batch = write(tmp_path / "questions.txt", "\n".join(questions) + "\n")
    result = _run(runner, prepared_dir, "ask", "--batch", str(batch), "--json")
    assert result.exit_code == 0, result.output
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(replies) == len(questions)
    assert all(set(r) >= REPLY_KEYS for r in replies)
    assert [r["action"] for r in replies] == ["answer", "fallback", "smalltalk", "ticket"]


def test_ask_without_question(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "ask")
    assert result.exit_code == 2
    assert "--batch" in result.stderr


# ------------------------------------------------------------------ eval

EVAL_TSV = """\
# kind<TAB>question<TAB>expected
kb\t补办身份证需要什么材料\t居民身份证遗失补领|居民身份证办理
kb\t公积金租房提取怎么办\t住房公积金租房提取
ticket\t楼下烧烤店油烟噪音扰民晚上十二点还在吵\t环境保护
smalltalk\t你好\tgreet
human\t转人工\thandoff
"""


def test_eval_prints_retrieval_scores(runner: CliRunner, prepared_dir: Path, tmp_path: Path) -> None:
    tsv = write(tmp_path / "dev.tsv", EVAL_TSV)
    details = tmp_path / "details.jsonl"
    result = _run(runner, prepared_dir, "eval", str(tsv), "--json-out", str(details))
    assert result.exit_code == 0, result.output
    for metric in ("hit@1", "hit@5", "MRR", "action accuracy", "latency p50 ms"):
        assert metric in result.stdout
    rows = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rows] == [2, 3, 4, 5, 6]
    assert rows[0]["rank"] is not None and rows[0]["rank"] <= 5
    assert rows[3]["action_ok"] is True and rows[4]["action_ok"] is True


def test_eval_bad_file(runner: CliRunner, prepared_dir: Path, tmp_path: Path) -> None:
    tsv = write(tmp_path / "bad.tsv", "kb\tonly two columns\n")
    result = _run(runner, prepared_dir, "eval", str(tsv))
    assert result.exit_code == 2
    assert "bad.tsv:1" in result.stderr


# ------------------------------------------------------------------ kb


def test_kb_list(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "kb", "list", "--kind", "guide", "--limit", "5")
    assert result.exit_code == 0
    body = [line for line in result.stdout.splitlines() if "guide" in line]
    assert len(body) == 5
    assert f"{_count(prepared_dir)} items in all" in result.stderr


def test_kb_show(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "kb", "show", "id-card-lost", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["id"] == "id-card-lost" and data["kind"] == "guide"
    assert data["materials"]
    plain = _run(runner, prepared_dir, "kb", "show", "id-card-lost")
    assert "居民身份证遗失补领" in plain.stdout


def test_kb_show_unknown_id(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "kb", "show", "no-such-item")
    assert result.exit_code == 1
    assert "no-such-item" in result.stderr


def test_kb_stats(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "kb", "stats")
    assert result.exit_code == 0
    stats = json.loads(result.stdout)
    assert stats["total"] == _count(prepared_dir)
    assert set(stats["by_kind"]) == {"guide", "faq"}
    assert 0 < stats["guide_field_coverage"]["materials"] <= 1
    calibration = stats["calibration"]  # the thresholds `govbot train` chose for this KB, with their rates
    assert 0 < calibration["clarify_min"] <= calibration["answer_min"] <= 1
    measured = calibration["measured"]
    assert measured["answerable"] > 0 and measured["unanswerable"] > 0
    assert 0 <= measured["answered_wrong"] <= 1 and 0 <= measured["unanswerable_answered"] <= 1


@pytest.mark.parametrize(
    ("name", "content", "code", "message"),
    [
        ("broken.yml", "guides:\n  - id: a\n    name: [unclosed\n", 1, "invalid YAML"),
        ("bad_records.yml", "guides:\n  - id: a\n  - id: b\n", 1, "name"),
        ("list.yml", "- a\n- b\n", 2, "expected a mapping"),
        ("items.csv", "a,b\n", 2, "cannot tell the format"),
        ("broken.docx", "PK\x03\x04 not really a zip", 2, "cannot read as docx"),
    ],
)
def test_kb_import_malformed_file(
    runner: CliRunner,
    copy_prepared: Callable[[], Path],
    tmp_path: Path,
    name: str,
    content: str,
    code: int,
    message: str,
) -> None:
    """Exit non-zero with a clear message; the knowledge base keeps its item count."""
    data_dir = copy_prepared()
    before = _count(data_dir)
    path = write(tmp_path / name, content)
    result = _run(runner, data_dir, "kb", "import", str(path))
    assert result.exit_code == code
    assert message in " ".join(result.stderr.split())
    assert _count(data_dir) == before


def test_kb_import_bad_options(runner: CliRunner, prepared_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", "{}\n")
    assert _run(runner, prepared_dir, "kb", "import", str(path), "--format", "xml").exit_code == 2
    result = _run(runner, prepared_dir, "kb", "import", str(path), "--map", "no-equals-sign")
    assert result.exit_code == 2 and "OURS=THEIRS" in result.stderr


def test_kb_import_own_data_replaces_the_sample_and_updates_index(
    runner: CliRunner, copy_prepared: Callable[[], Path], tmp_path: Path
) -> None:
    data_dir = copy_prepared()
    before = _count(data_dir)
    line = json.dumps(
        {
            "code": "cli-1",
            "title": "命令行导入测试事项",
            "dept": "示例市测试局",
            "body": "一段事项说明",
            "x": 1,
        },
        ensure_ascii=False,
    )
    path = write(tmp_path / "new.jsonl", line + "\n")
    args = ["kb", "import", str(path), "--map", "id=code", "--map", "name=title", "--map", "department=dept"]
    result = _run(runner, data_dir, *args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "1 new" in said
    assert "kept fields:" in said and "body (1)" in said and "department (1)" in said
    assert "dropped keys" in said and "x (1)" in said
    assert f"removed the bundled sample knowledge base ({before} items" in said
    assert _count(data_dir) == 1
    # the new item is embedded once, at import (its vector stored with it); the index reuses it
    assert "1 new, 0 changed, 1 embedded" in said and "0 embedded, 1 reused" in said
    again = json.loads(_run(runner, data_dir, "ask", "命令行导入测试事项", "--json").stdout)
    assert again["item_id"] == "cli-1"
    assert "一段事项说明" in again["reply"] and again["card"]["body"] == "一段事项说明"
    assert "示例内容" not in again["reply"]


def test_kb_import_map_mistakes_are_refused(
    runner: CliRunner, copy_prepared: Callable[[], Path], tmp_path: Path
) -> None:
    data_dir = copy_prepared()
    before = _count(data_dir)
    path = write(tmp_path / "a.jsonl", json.dumps({"id": "a", "title": "甲"}, ensure_ascii=False) + "\n")
    wrong_field = _run(runner, data_dir, "kb", "import", str(path), "--map", "nmae=title")
    assert wrong_field.exit_code == 2
    assert "'nmae' is not a field" in wrong_field.stderr and "name" in wrong_field.stderr
    missing_key = _run(runner, data_dir, "kb", "import", str(path), "--map", "name=titel")
    assert missing_key.exit_code == 2
    assert "titel" in missing_key.stderr and "appear in no record" in " ".join(missing_key.stderr.split())
    assert _count(data_dir) == before


def test_kb_fields_lists_every_field_with_its_meaning(runner: CliRunner) -> None:
    result = _run(runner, None, "kb", "fields", "--kind", "guide")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name in ("id", "name", "body", "materials", "online_url"):
        assert f" {name} " in text
    assert "Free text about the item" in text and "question" not in text
    help_text = " ".join(_run(runner, None, "kb", "import", "--help").stdout.split())
    assert "body: Free text about the item" in help_text and "question*:" in help_text


def test_kb_sources_and_remove(runner: CliRunner, copy_prepared: Callable[[], Path], tmp_path: Path) -> None:
    data_dir = copy_prepared()
    listed = json.loads(_run(runner, data_dir, "kb", "sources", "--json").stdout)
    assert listed and all(row["sample"] for row in listed)
    assert sum(row["count"] for row in listed) == _count(data_dir)
    first = listed[0]["source"]
    gone = sum(row["count"] for row in listed if row["source"] == first)
    result = _run(runner, data_dir, "kb", "remove", "--source", first)
    assert result.exit_code == 0, result.output
    assert f"removed {gone} items of {first}" in result.stderr
    assert first not in {
        row["source"] for row in json.loads(_run(runner, data_dir, "kb", "sources", "--json").stdout)
    }
    unknown = _run(runner, data_dir, "kb", "remove", "--source", "没有这个来源")
    assert unknown.exit_code == 2 and "the sources are" in unknown.stderr


# ------------------------------------------------------------------ config and help


def test_a_trained_directory_is_not_trained_again(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`govbot serve` prepares the directory on every start: models saved by `govbot train`
    (the array export) must count as trained, or each start retrains for minutes."""
    from jobs import operations

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("trained again")

    monkeypatch.setattr(operations, "train_models", refuse)
    monkeypatch.setattr(operations, "build_kb_index", refuse)
    prepare_all(assistant, quiet=True, index=False)
    assert operations.models_trained(assistant.settings)
    models = tmp_path / "data" / "models"
    shutil.copytree(assistant.settings.models_dir, models)
    (models / "category" / "config.json").unlink()
    assert not operations.models_trained(load_settings(data_dir=tmp_path / "data"))


def test_config_prints_settings_with_pipeline(runner: CliRunner, prepared_dir: Path) -> None:
    result = _run(runner, prepared_dir, "config")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    configured = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["pipeline"]
    assert [c["name"] for c in data["pipeline"]] == [c["name"] for c in configured]
    assert Path(data["data_dir"]) == prepared_dir
    assert data["index"]["weights"]


@pytest.mark.parametrize(
    ("command", "purpose"),
    [
        ([], "government-service assistant"),
        (["kb"], "Knowledge base"),
        (["kb", "import"], "Import service guides"),
        (["kb", "list"], "List items"),
        (["kb", "show"], "Show one item"),
        (["kb", "stats"], "Counts by kind"),
        (["kb", "fields"], "List every field"),
        (["kb", "sources"], "List the knowledge sources"),
        (["kb", "remove"], "Remove every item of one knowledge source"),
        (["index"], "search index"),
        (["index", "build"], "Build or update"),
        (["train"], "Train the intent and category classifiers"),
        (["ask"], "Ask one question"),
        (["chat"], "Talk to the assistant"),
        (["eval"], "hit@1"),
        (["config"], "settings in force"),
    ],
)
def test_help(runner: CliRunner, command: list[str], purpose: str) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert purpose in " ".join(result.stdout.split())
    assert "Usage" in result.stdout


def test_no_args_shows_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [], env={"COLUMNS": "200"})
    assert "Usage" in result.output
    for command in ("kb", "index", "train", "ask", "chat", "eval", "config"):
        assert command in result.output
