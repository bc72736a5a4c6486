"""The Rasa callback channel through the real app: answers and an agent's live lines are POSTed to
a real HTTP receiver on a loopback port, which can refuse for a while; nothing is lost."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.handoff import desk_notices
from bot.responses import Responses
from core.clock import ManualClock
from server.app import create_app
from tests.server.conftest import AGENT_TOKEN, server_settings
from tests.utils.ticketdb import copy_data_dir
from tests.utils.wechat import wait_until

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}
NOTICES = desk_notices(Responses.load())


class Receiver:
    """The client's callback endpoint: records every JSON body; answers `refuse_with` to the next
    `refusals` requests first."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refusals = 0
        self.refuse_with = 503
        self.requests = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests += 1
                    refuse = receiver.refusals > 0
                    if refuse:
                        receiver.refusals -= 1
                    else:
                        receiver.bodies.append(json.loads(body))
                self.send_response(receiver.refuse_with if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, sender: str) -> list[dict[str, Any]]:
        with self._lock:
            return [b for b in self.bodies if b.get("recipient_id") == sender]

    def texts(self, sender: str) -> list[str]:
        return [b["text"] for b in self.to(sender) if "text" in b]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="module")
def served(
    prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> Iterator[tuple[TestClient, ManualClock, Path]]:
    data_dir = tmp_path_factory.mktemp("callback") / "data"
    copy_data_dir(prepared_dir, data_dir)
    settings = server_settings(data_dir)
    settings.channels["callback"] = {
        "url": receiver.url,
        "outbox": {"poll_seconds": 0.1, "retry": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2}},
    }
    clock = ManualClock()
    app = create_app(settings)
    app.state.desk.clock = clock
    for engine in app.state.service.engines:
        engine.clock = clock
    with TestClient(app) as client:
        yield client, clock, data_dir


def _say(client: TestClient, sender: str, text: str) -> None:
    response = client.post("/webhooks/callback/webhook", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    assert response.text == "success"  # Rasa's CallbackInput answers exactly this


def test_the_answer_goes_to_the_callback_url_not_the_response(
    served: tuple[TestClient, ManualClock, Path], receiver: Receiver
) -> None:
    client, _, _ = served
    sender = f"cb-{uuid.uuid4().hex[:8]}"
    _say(client, sender, "居住证怎么办理")
    assert wait_until(lambda: bool(receiver.texts(sender)), timeout=30)
    first = receiver.to(sender)[0]
    assert first["recipient_id"] == sender and first["text"]
    assert client.get("/webhooks/callback/").json() == {"status": "ok"}


def test_a_receiver_that_refuses_for_a_while_gets_every_message_in_order(
    served: tuple[TestClient, ManualClock, Path], receiver: Receiver
) -> None:
    client, _, _ = served
    sender = f"cb-{uuid.uuid4().hex[:8]}"
    before = receiver.requests
    receiver.refuse_with, receiver.refusals = 503, 3
    _say(client, sender, "你好")
    _say(client, sender, "谢谢")
    assert wait_until(lambda: len(receiver.texts(sender)) >= 2, timeout=30)
    assert receiver.requests - before >= 5  # three refusals, then both messages
    greet, thanks = receiver.texts(sender)[:2]
    assert greet in Responses.load().templates["utter_greet"]
    assert thanks in Responses.load().templates["utter_thanks"]


def test_a_permanent_refusal_is_not_repeated(
    served: tuple[TestClient, ManualClock, Path], receiver: Receiver
) -> None:
    client, _, _ = served
    sender = f"cb-{uuid.uuid4().hex[:8]}"
    receiver.refuse_with, receiver.refusals = 400, 1
    before = receiver.requests
    _say(client, sender, "你好")
    assert wait_until(lambda: receiver.requests > before, timeout=30)
    _say(client, sender, "谢谢")  # the next message is not held behind the refused one
    assert wait_until(lambda: bool(receiver.texts(sender)), timeout=30)
    assert receiver.texts(sender)[0] in Responses.load().templates["utter_thanks"]
    receiver.refuse_with = 503


def test_an_agents_lines_are_pushed_as_they_are_written(
    served: tuple[TestClient, ManualClock, Path], receiver: Receiver
) -> None:
    client, clock, _ = served
    clock.set_local("2026-11-23 11:00")  # a Monday inside the desk's hours
    client.get("/api/v1/handoff/inbox", headers=AGENT)  # an agent is present
    sender = f"cb-{uuid.uuid4().hex[:8]}"
    _say(client, sender, "转人工")
    assert wait_until(lambda: any("已为您转接人工客服" in t for t in receiver.texts(sender)), timeout=30)
    inbox = client.get("/api/v1/handoff/inbox", headers=AGENT).json()
    conversation = next(c for c in inbox["conversations"] if c["channel"] == "callback")
    client.post(f"/api/v1/handoff/{conversation['id']}/take", headers=AGENT)
    client.post(f"/api/v1/handoff/{conversation['id']}/reply", json={"text": "请讲，我在听。"}, headers=AGENT)
    assert wait_until(lambda: "请讲，我在听。" in receiver.texts(sender), timeout=30)
    assert NOTICES["joined"] in receiver.texts(sender)
    pushed = len(receiver.texts(sender))
    _say(client, sender, "我想问社保转移")  # goes to the agent; the pushed lines are not repeated
    client.post(f"/api/v1/handoff/{conversation['id']}/close", json={"outcome": "resolved"}, headers=AGENT)
    assert wait_until(lambda: NOTICES["closed"] in receiver.texts(sender), timeout=30)
    texts = receiver.texts(sender)
    assert texts.count("请讲，我在听。") == 1 and len(texts) == pushed + 1


def test_without_a_url_there_is_no_endpoint(prepared_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    copy_data_dir(prepared_dir, data_dir)
    with TestClient(create_app(server_settings(data_dir))) as client:
        response = client.post("/webhooks/callback/webhook", json={"sender": "a", "message": "你好"})
    assert response.status_code == 404


def test_a_bad_request_is_refused_before_anything_is_queued(
    served: tuple[TestClient, ManualClock, Path], receiver: Receiver
) -> None:
    client, _, _ = served
    before = receiver.requests
    assert client.post("/webhooks/callback/webhook", json={"sender": "x"}).status_code == 422
    assert client.post("/webhooks/callback/webhook", content=b"not json").status_code in (400, 422)
    assert receiver.requests == before
