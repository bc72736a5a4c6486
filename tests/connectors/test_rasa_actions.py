"""The rasa-sdk actions, in a real action server process, against the real govbot server.

The action server runs from `.venv-rasa` (rasa-sdk 3.21.1 needs pydantic < 2.14, which our
main environment pins higher; `make install` builds both). It calls a real govbot server
(the app factory under uvicorn in a thread, over a copy of the prepared data directory, with
its own SQLite ticket database): `govbot serve` in all but the process. There is no stand-in
ticket API: what the actions send must pass the same intake as every other door, and the
assertions read the ticket the server stored. Requests are what a Rasa server posts to
`/webhook`; the assertions are on the `events` and `responses` it gets back.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from core.settings import PROJECT_ROOT
from server.app import create_app
from tests.server.conftest import AGENT_TOKEN, server_settings
from tests.utils.citizen_text import citizen_problems
from tests.utils.servers import free_port, serve_in_thread, wait_until_up
from tests.utils.ticketdb import copy_data_dir
from tickets.models import AuditEntry, Ticket

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
SLOTS = ("phone", "name", "location", "category", "ticket_type", "ticket_no")
NOISE = "楼上装修噪音扰民，每天早上七点就开始"  # a matter the chat form would accept


@dataclass
class Govbot:
    """The running server, and its ticket database as stored."""

    url: str
    app: FastAPI

    def stored(self, ticket_no: str) -> Ticket:
        with self.app.state.desk.db.session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
            assert ticket is not None, ticket_no
            session.expunge(ticket)
            return ticket

    def audit(self, ticket_no: str) -> list[AuditEntry]:
        with self.app.state.desk.db.session() as session:
            ticket_id = select(Ticket.id).where(Ticket.ticket_no == ticket_no).scalar_subquery()
            entries = list(session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id)))
            session.expunge_all()
            return entries

    def count(self) -> int:
        with self.app.state.desk.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


@pytest.fixture(scope="module")
def govbot(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Govbot]:
    data_dir = tmp_path_factory.mktemp("actions") / "data"
    copy_data_dir(prepared_dir, data_dir)
    app = create_app(server_settings(data_dir))
    with serve_in_thread(app) as url:
        yield Govbot(url, app)


@contextmanager
def running_action_server(**env: str) -> Iterator[str]:
    """`python -m rasa_sdk --actions connectors.rasa_actions` from .venv-rasa, as `make actions`."""
    if not RASA_PYTHON.is_file():
        pytest.skip(f"{RASA_PYTHON} not found: `make install` builds the rasa-sdk environment")
    port = free_port()
    command = [str(RASA_PYTHON), "-m", "rasa_sdk", "--actions", "connectors.rasa_actions"]
    command += ["--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GOVBOT_API_TIMEOUT": "30", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{url}/health", timeout=120, process=process)
        except RuntimeError:
            process.kill()
            raise RuntimeError(process.stderr.read().decode()[-3000:] if process.stderr else "") from None
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def action_server(govbot: Govbot) -> Iterator[str]:
    """The action server configured for the real server: GOVBOT_API_URL and an agent token."""
    with running_action_server(GOVBOT_API_URL=govbot.url, GOVBOT_API_TOKEN=AGENT_TOKEN) as url:
        yield url


def run_action(
    server: str,
    action: str,
    text: str,
    *,
    sender: str | None = None,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
    declared: tuple[str, ...] = SLOTS,
) -> dict[str, Any]:
    """POST what a Rasa server sends to its action endpoint; the action server's JSON reply.
    `history`: the tracker's earlier events (see `turn`), `declared`: the domain's slots."""
    sender = sender or f"rasa-{uuid.uuid4().hex}"
    all_slots = {name: None for name in declared} | (slots or {})
    latest = {
        "text": text,
        "intent": {"name": "ask_service", "confidence": 0.9},
        "intent_ranking": [{"name": "ask_service", "confidence": 0.9}],
        "entities": entities or [],
        "message_id": uuid.uuid4().hex,
        "metadata": {},
    }
    now = time.time()
    payload = {
        "next_action": action,
        "sender_id": sender,
        "version": "3.16.3",
        "tracker": {
            "sender_id": sender,
            "slots": all_slots,
            "latest_message": latest,
            "latest_event_time": now,
            "followup_action": None,
            "paused": False,
            "events": [
                {"event": "action", "timestamp": now - 100, "name": "action_session_start"},
                *(history or []),
                {"event": "action", "timestamp": now - 1, "name": "action_listen"},
                {"event": "user", "timestamp": now, "text": text, "parse_data": latest},
            ],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
        "domain": {
            "version": "3.1",
            "intents": ["ask_service", "complaint"],
            "entities": ["phone"],
            "slots": {name: {"type": "text", "mappings": [{"type": "custom"}]} for name in declared},
            "responses": {},
            "actions": ["action_answer_from_kb", "action_create_ticket"],
            "forms": {},
        },
    }
    response = httpx.post(f"{server}/webhook", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def turn(text: str, answered_by: str, reply: str = "", **slots: Any) -> list[dict[str, Any]]:
    """The events of one earlier turn: the citizen's text, the action that answered it (with
    what it said and the slots it set), then listening again."""
    parse = {"text": text, "intent": {"name": "complaint", "confidence": 0.9}, "entities": []}
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse},
        {"event": "action", "name": answered_by},
    ]
    if reply:
        events.append({"event": "bot", "text": reply})
    events += [{"event": "slot", "name": name, "value": value} for name, value in slots.items()]
    return events


def test_answer_from_kb_utters_govbot_reply_and_keeps_the_conversation(action_server: str) -> None:
    sender = f"rasa-{uuid.uuid4().hex}"
    first = run_action(action_server, "action_answer_from_kb", "普通护照首次申领怎么办", sender=sender)
    assert first["events"] == []
    (reply,) = first["responses"]
    assert "护照" in reply["text"] and not reply.get("buttons")
    followup = run_action(action_server, "action_answer_from_kb", "需要什么材料？", sender=sender)
    assert "护照" in followup["responses"][0]["text"]
    elsewhere = run_action(action_server, "action_answer_from_kb", "需要什么材料？")
    assert "护照" not in elsewhere["responses"][0]["text"]


def test_clarify_buttons_pick_an_option(action_server: str) -> None:
    sender = f"rasa-{uuid.uuid4().hex}"
    asked = run_action(action_server, "action_answer_from_kb", "社保卡", sender=sender)
    buttons = asked["responses"][0]["buttons"]
    assert len(buttons) >= 2 and buttons[0]["payload"] == "1" and buttons[1]["payload"] == "2"
    picked = run_action(action_server, "action_answer_from_kb", buttons[1]["payload"], sender=sender)
    assert buttons[1]["title"] in picked["responses"][0]["text"]


def test_create_ticket_stores_a_rasa_ticket_in_the_real_server(action_server: str, govbot: Govbot) -> None:
    text = "楼下烧烤店油烟太大，晚上十点还在营业。邻居都受不了"
    slots = {"phone": "138 1234 5678", "name": "张先生", "location": "天河区体育西路1号"}
    result = run_action(action_server, "action_create_ticket", text, slots=slots)
    [(event, name, ticket_no)] = [(e["event"], e["name"], e["value"]) for e in result["events"]]
    assert (event, name) == ("slot", "ticket_no")
    stored = govbot.stored(ticket_no)
    assert stored.channel == "rasa"
    assert stored.content == text and stored.title == "楼下烧烤店油烟太大，晚上十点还在营业"
    assert stored.phone == "13812345678" and stored.citizen_name == "张先生"
    assert stored.location == "天河区体育西路1号" and stored.type == "求助"
    [created] = govbot.audit(ticket_no)
    assert created.action == "create" and created.changes["category_predicted"] is True
    (reply,) = result["responses"]
    local = stored.feedback_deadline.astimezone(ZoneInfo("Asia/Shanghai"))
    assert ticket_no in reply["text"] and f"{local:%H:%M}前" in reply["text"]  # Beijing time, in words
    assert citizen_problems(reply["text"]) == [], reply["text"]


def test_slots_reach_the_ticket_and_the_phone_can_come_from_the_latest_message(
    action_server: str, govbot: Govbot
) -> None:
    entity = {"entity": "phone", "value": "13900001111", "start": 0, "end": 11}
    slots = {"category": "城乡建设", "ticket_type": "投诉"}
    result = run_action(
        action_server, "action_create_ticket", "13900001111 路灯坏了", entities=[entity], slots=slots
    )
    stored = govbot.stored(result["events"][0]["value"])
    assert (stored.phone, stored.channel) == ("13900001111", "rasa")
    assert (stored.type, stored.category1) == ("投诉", "城乡建设")


def test_no_phone_means_no_ticket_but_a_question(action_server: str, govbot: Govbot) -> None:
    before = govbot.count()
    result = run_action(action_server, "action_create_ticket", "路灯坏了很久没人修")
    assert result["events"] == []
    assert "手机号码" in result["responses"][0]["text"]  # the chat form's own question
    assert govbot.count() == before


@pytest.mark.parametrize(
    "slots",
    [
        {"phone": "12345"},  # the server's contract refuses it: not a citizen's number
        {"phone": "13812345678", "ticket_type": "闲聊"},  # not a 12345 ticket type
        {"phone": "13812345678", "category": "火星事务"},  # not in the taxonomy
    ],
)
def test_what_the_server_refuses_is_reported_politely_without_success_events(
    action_server: str, govbot: Govbot, slots: dict[str, str]
) -> None:
    before = govbot.count()
    result = run_action(action_server, "action_create_ticket", NOISE, slots=slots)
    assert result["events"] == []
    (reply,) = result["responses"]
    assert "抱歉" in reply["text"] and "编号" not in reply["text"]
    assert govbot.count() == before


def test_a_wrong_token_is_refused_by_the_server_and_reported_politely(govbot: Govbot) -> None:
    before = govbot.count()
    with running_action_server(GOVBOT_API_URL=govbot.url, GOVBOT_API_TOKEN="not-a-token") as server:
        result = run_action(server, "action_create_ticket", NOISE, slots={"phone": "13812345678"})
    assert result["events"] == [] and "抱歉" in result["responses"][0]["text"]
    assert govbot.count() == before


def test_an_unreachable_ticket_api_is_reported_politely(govbot: Govbot) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with running_action_server(GOVBOT_API_URL=govbot.url, GOVBOT_TICKETS_URL=nowhere) as server:
        result = run_action(server, "action_create_ticket", NOISE, slots={"phone": "13812345678"})
    assert result["events"] == []
    assert "抱歉" in result["responses"][0]["text"]


COMPLAINT = "楼下烧烤店油烟太大，晚上十点还在营业，邻居都受不了"


def test_the_phone_in_a_later_turn_files_the_earlier_complaint(action_server: str, govbot: Govbot) -> None:
    """The complaint, then "我的电话是…": the ticket holds the complaint, routed by its matter."""
    sender = f"rasa-{uuid.uuid4().hex}"
    history = turn("普通护照首次申领怎么办", "action_answer_from_kb", "普通护照……")  # an earlier question
    asked = run_action(action_server, "action_create_ticket", COMPLAINT, sender=sender, history=history)
    assert asked["events"] == []  # nothing filed, nothing claimed
    (question,) = asked["responses"]
    assert "手机号码" in question["text"]  # the chat form's own question
    history += turn(COMPLAINT, "action_create_ticket", question["text"])
    before = govbot.count()
    result = run_action(
        action_server, "action_create_ticket", "我的电话是138 1234 5678", sender=sender, history=history
    )
    [(event, name, ticket_no)] = [(e["event"], e["name"], e["value"]) for e in result["events"]]
    assert (event, name) == ("slot", "ticket_no") and govbot.count() == before + 1
    stored = govbot.stored(ticket_no)
    assert stored.content == COMPLAINT and stored.phone == "13812345678"
    assert "护照" not in stored.content and "电话" not in stored.title
    assert (stored.category1, stored.department) == ("环境保护", "市生态环境局"), (
        stored.category1,
        stored.department,
    )


def test_a_declared_complaint_slot_carries_the_complaint(action_server: str, govbot: Govbot) -> None:
    declared = (*SLOTS, "complaint")
    asked = run_action(action_server, "action_create_ticket", COMPLAINT, declared=declared)
    assert asked["events"] == [{"event": "slot", "name": "complaint", "value": COMPLAINT, "timestamp": None}]
    # the history is gone (another action in between), the slot still has the complaint
    history = turn("营业执照怎么办", "action_answer_from_kb", "营业执照……")
    result = run_action(
        action_server,
        "action_create_ticket",
        "13812345678",
        slots={"complaint": COMPLAINT},
        declared=declared,
        history=history,
    )
    ticket_no = next(e["value"] for e in result["events"] if e["name"] == "ticket_no")
    assert govbot.stored(ticket_no).content == COMPLAINT
    assert {"event": "slot", "name": "complaint", "value": None, "timestamp": None} in result["events"]


def test_only_a_request_for_the_form_asks_for_the_matter_first(action_server: str, govbot: Govbot) -> None:
    before = govbot.count()
    result = run_action(action_server, "action_create_ticket", "我要投诉", slots={"phone": "13812345678"})
    assert result["events"] == [] and govbot.count() == before
    assert "描述" in result["responses"][0]["text"]


def test_a_wrong_number_is_asked_again(action_server: str, govbot: Govbot) -> None:
    history = turn(COMPLAINT, "action_create_ticket", "请留下您的手机号码")
    result = run_action(action_server, "action_create_ticket", "电话是12345678", history=history)
    assert result["events"] == [] and "格式不正确" in result["responses"][0]["text"]
