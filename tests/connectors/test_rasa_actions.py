"""The rasa-sdk actions, in a real action server process, against real HTTP servers.

The action server runs from `.venv-rasa` (rasa-sdk 3.21.1 needs pydantic < 2.14, which our
main environment pins higher; `make install` builds both). It calls a real govbot server
(uvicorn in a thread over a copy of the prepared data directory) for answers, and a small
stand-in ticket API on loopback for tickets. Requests are what a Rasa server posts to
`/webhook`; the assertions are on the `events` and `responses` it gets back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from core.settings import PROJECT_ROOT
from server.app import create_app
from tests.api.conftest import server_settings
from tests.utils.servers import free_port, serve_in_thread, wait_until_up

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
TICKET_TOKEN = "ticket-token-0123456789"
SLOTS = ("phone", "name", "location", "category", "ticket_type", "ticket_no")


@dataclass
class TicketApi:
    """What the stand-in ticket API received, and how it is to answer."""

    mode: str = "created"  # created | 404 | 500
    received: list[dict[str, Any]] = field(default_factory=list)


def ticket_app(state: TicketApi) -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/tickets")
    async def create(request: Request) -> Response:  # the contract of POST /api/v1/tickets
        body = await request.json()
        state.received.append({"json": body, "authorization": request.headers.get("authorization")})
        if state.mode != "created":
            return Response(status_code=int(state.mode), content=b'{"detail": "unavailable"}')
        created = {"ticket_no": "GD20261123000042", "status": "registered", "feedback_deadline": "2026-11-30"}
        return JSONResponse(created, status_code=201)

    return app


@pytest.fixture(scope="module")
def govbot_url(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("actions") / "data"
    shutil.copytree(prepared_dir, data_dir, ignore=shutil.ignore_patterns("sessions.sqlite*"))
    with serve_in_thread(create_app(server_settings(data_dir))) as url:
        yield url


@pytest.fixture(scope="module")
def ticket_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def action_server(govbot_url: str, ticket_port: int) -> Iterator[str]:
    if not RASA_PYTHON.is_file():
        pytest.skip(f"{RASA_PYTHON} not found: `make install` builds the rasa-sdk environment")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "GOVBOT_API_URL": govbot_url,
        "GOVBOT_TICKETS_URL": f"http://127.0.0.1:{ticket_port}",
        "GOVBOT_API_TOKEN": TICKET_TOKEN,
        "GOVBOT_API_TIMEOUT": "30",
    }
    command = [
        str(RASA_PYTHON),
        "-m",
        "rasa_sdk",
        "--actions",
        "connectors.rasa_actions",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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


@pytest.fixture
def ticket_api(ticket_port: int) -> Iterator[TicketApi]:
    state = TicketApi()
    with serve_in_thread(ticket_app(state), ticket_port):
        yield state


def run_action(
    server: str,
    action: str,
    text: str,
    *,
    sender: str | None = None,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """POST what a Rasa server sends to its action endpoint; the action server's JSON reply."""
    sender = sender or f"rasa-{uuid.uuid4().hex}"
    all_slots = {name: None for name in SLOTS} | (slots or {})
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
            "slots": {name: {"type": "text", "mappings": [{"type": "custom"}]} for name in SLOTS},
            "responses": {},
            "actions": ["action_answer_from_kb", "action_create_ticket"],
            "forms": {},
        },
    }
    response = httpx.post(f"{server}/webhook", json=payload, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


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


def test_create_ticket_sends_the_slots_and_sets_ticket_no(action_server: str, ticket_api: TicketApi) -> None:
    text = "楼下烧烤店油烟太大，晚上十点还在营业"
    slots = {"phone": "13812345678", "name": "张先生", "location": "天河区体育西路1号"}
    result = run_action(action_server, "action_create_ticket", text, slots=slots)
    (received,) = ticket_api.received
    assert received["authorization"] == f"Bearer {TICKET_TOKEN}"
    sent = received["json"]
    assert sent["content"] == text and text.startswith(sent["title"]) and sent["title"]
    assert {k: sent[k] for k in ("phone", "name", "location")} == slots
    assert sent["channel"] == "rasa" and "category" not in sent
    assert [(e["event"], e["name"], e["value"]) for e in result["events"]] == [
        ("slot", "ticket_no", "GD20261123000042")
    ]
    assert "GD20261123000042" in result["responses"][0]["text"]
    assert "2026-11-30" in result["responses"][0]["text"]


def test_phone_can_come_from_the_latest_message(action_server: str, ticket_api: TicketApi) -> None:
    entity = {"entity": "phone", "value": "13900001111", "start": 0, "end": 11}
    result = run_action(action_server, "action_create_ticket", "13900001111 路灯坏了", entities=[entity])
    assert ticket_api.received[0]["json"]["phone"] == "13900001111"
    assert result["events"][0]["value"] == "GD20261123000042"


def test_no_phone_means_no_ticket_but_a_question(action_server: str, ticket_api: TicketApi) -> None:
    result = run_action(action_server, "action_create_ticket", "路灯坏了很久没人修")
    assert ticket_api.received == []
    assert result["events"] == []
    assert "电话" in result["responses"][0]["text"]


@pytest.mark.parametrize("mode", ["404", "500"])
def test_ticket_api_errors_are_reported_politely_without_success_events(
    action_server: str, ticket_api: TicketApi, mode: str
) -> None:
    ticket_api.mode = mode
    result = run_action(action_server, "action_create_ticket", "噪音扰民", slots={"phone": "13812345678"})
    assert len(ticket_api.received) == 1
    assert result["events"] == []
    (reply,) = result["responses"]
    assert "抱歉" in reply["text"] and "编号" not in reply["text"]


def test_unreachable_ticket_api_is_reported_politely(action_server: str) -> None:
    result = run_action(action_server, "action_create_ticket", "噪音扰民", slots={"phone": "13812345678"})
    assert result["events"] == []
    assert "抱歉" in result["responses"][0]["text"]
