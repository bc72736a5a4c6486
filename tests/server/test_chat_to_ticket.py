"""Chat → ticket through the real server and the SQL desk: the form, status by number + last 4."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import AGENT_TOKEN, server_settings
from tickets.intake import TicketReceipt


def _say(client: TestClient, session: str, text: str) -> dict:
    response = client.post("/api/v1/chat", json={"session_id": session, "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return response.json()


def test_complaint_becomes_a_stored_ticket_and_its_status_is_found(
    copy_prepared: Callable[[], Path],
) -> None:
    with TestClient(create_app(server_settings(copy_prepared()))) as client:
        session = uuid.uuid4().hex
        first = _say(client, session, "小区门口的路灯坏了一个多月，晚上漆黑一片，老人摔倒过好几次")
        assert first["action"] == "ticket" and first["form"]["step"] == "location"
        for text in ("海珠区江南大道中88号", "13812345678", "李女士", "同意"):
            _say(client, session, text)
        done = _say(client, session, "确认提交")
        ticket_no = done["ticket"]["ticket_no"]
        assert ticket_no in done["reply"]
        assert done["form"] is None
        # the one intake's receipt, less a possible duplicate's number (another citizen's ticket)
        assert set(done["ticket"]) == set(TicketReceipt.model_fields) - {"duplicate_of"}

        # Staff see it with the category predicted and the phone masked for a non-handler.
        staff = client.get(f"/api/v1/tickets/{ticket_no}", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
        assert staff.status_code == 200, staff.text
        body = staff.json()
        shown = body.get("ticket", body)
        assert shown["channel"] == "web" and shown["location"] == "海珠区江南大道中88号"
        for name in ("status", "department", "urgency", "received_at", "feedback_deadline"):
            assert shown[name] == done["ticket"][name], name
        assert shown["phone"] == "138****5678"
        assert shown["citizen_name"] == "李女士"

        # The citizen asks for the status in another conversation.
        other = uuid.uuid4().hex
        status = _say(client, other, f"我的工单{ticket_no}办得怎么样了，手机尾号5678")
        assert status["action"] == "ticket_status"
        assert status["ticket"]["ticket_no"] == ticket_no and status["ticket"]["status"] == "待受理"
        wrong = _say(client, uuid.uuid4().hex, f"查询工单{ticket_no} 尾号0000")
        assert wrong["ticket"] is None


def test_the_rasa_rest_door_files_its_tickets_under_the_rasa_channel(
    copy_prepared: Callable[[], Path],
) -> None:
    with TestClient(create_app(server_settings(copy_prepared()))) as client:
        sender = uuid.uuid4().hex
        complaint = "小区门口的路灯坏了一个多月，晚上漆黑一片"
        for text in (complaint, "海珠区江南大道中88号", "13812345678", "跳过", "同意", "确认提交"):
            response = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
            assert response.status_code == 200, response.text
        reply = response.json()[0]["text"]
        found = re.search(r"\d{8}-\d{4}", reply)
        assert found, reply
        staff = client.get(f"/api/v1/tickets/{found[0]}", headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
        assert staff.status_code == 200 and staff.json()["channel"] == "rasa"


def test_ticket_database_down_keeps_the_form(copy_prepared: Callable[[], Path], tmp_path: Path) -> None:
    """The database goes away after start-up (the knowledge base shares it, so the server
    cannot start without it): the form survives a failed submission."""
    from tickets.db import TicketDB

    app = create_app(server_settings(copy_prepared()))
    with TestClient(app) as client:
        working = app.state.desk.db
        app.state.desk.db = TicketDB("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
        try:
            session = uuid.uuid4().hex
            _say(client, session, "楼下餐馆的油烟直接排到我家窗户，一开窗全是油烟味")
            for text in ("白云区机场路12号", "13912345678", "跳过", "同意"):
                _say(client, session, text)
            failed = _say(client, session, "确认提交")
        finally:
            app.state.desk.db = working
        assert failed["ticket"] is None
        assert failed["form"]["step"] == "confirm"
        assert "没有提交" in failed["reply"]
