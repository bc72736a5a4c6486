"""Session context with its time limit; reply templates and their placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.messages import Option
from bot.responses import RESPONSES_FILE, Responses
from bot.sessions import SessionState, SqliteSessionStore
from core.clock import ManualClock
from tests.utils.keys import fresh_keyring

RING = fresh_keyring()


def test_session_round_trip_and_isolation(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "s" / "sessions.sqlite", ttl_minutes=30, keyring=RING)
    try:
        state = SessionState(
            last_item_id="id-card", last_action="clarify", options=[Option(id="a", title="甲")]
        )
        store.put("alice", state)
        loaded = store.get("alice")
        assert loaded.last_item_id == "id-card"
        assert loaded.options == [Option(id="a", title="甲")]
        assert loaded.updated_at > 0
        assert store.get("bob") == SessionState()
    finally:
        store.close()


def test_expired_session_is_forgotten_and_each_write_renews_it(tmp_path: Path) -> None:
    clock = ManualClock()
    store = SqliteSessionStore(tmp_path / "sessions.sqlite", ttl_minutes=30, keyring=RING, clock=clock)
    try:
        store.put("alice", SessionState(last_item_id="id-card"))
        clock.advance(minutes=20)
        store.put("alice", store.get("alice"))  # activity renews the session
        clock.advance(minutes=20)
        assert store.get("alice").last_item_id == "id-card"
        clock.advance(minutes=10, seconds=1)
        assert store.get("alice").last_item_id is None
    finally:
        store.close()


@pytest.fixture(scope="module")
def responses() -> Responses:
    return Responses.load()


def test_every_template_renders_with_documented_placeholders(responses: Responses) -> None:
    values = {
        "count": 3,
        "category": "环境保护",
        "ticket_no": "20261123000042",
        "limit": 2000,
        "item": "事项",
        "field": "收费标准",
        "contact": "",
        "phone": "12345",
        "url": "https://x",
        # the ticket form, status and rating (bot/escalation.py)
        "summary": "诉求内容：…",
        "deadline": "明天18:00前",
        "min": 8,
        "status": "已交办",
        "department": "市城市管理局",
        "feedback_deadline": "11月24日18:00前",
        "reply": "已处理",
        "score": 5,
        # the status lookup lockout and a refused form field (tickets/lockout.py, bot/escalation.py)
        "minutes": 60,
        "reason": "事发地点过长",
        # policy-document answers (bot/answers.py)
        "document": "工伤保险条例",
        "place": "第十四条",
        "source": "gongshang.md",
        # live agents (bot/handoff.py)
        "ahead": 2,
        "hours": "周一至周五 09:00-18:00，法定节假日除外",
        "next": "明天09:00",
    }
    for name, variants in responses.templates.items():
        assert variants, name
        for template in variants:
            rendered = template.format(**values)
            assert "{" not in rendered and "}" not in rendered, name


def test_responses_file_is_rasa_shaped() -> None:
    data = yaml.safe_load(RESPONSES_FILE.read_text(encoding="utf-8"))
    assert all(name.startswith("utter_") for name in data["responses"])


def test_render_fills_placeholders(responses: Responses) -> None:
    text = responses.render("utter_ticket_status_not_found", ticket_no="20261123000042")
    assert "20261123000042" in text


def test_render_unknown_name_fails_loudly(responses: Responses) -> None:
    with pytest.raises(KeyError, match="utter_nope"):
        responses.render("utter_nope")


def test_render_missing_value_returns_template() -> None:
    assert Responses({"utter_x": ["需要 {value}"]}).render("utter_x") == "需要 {value}"
