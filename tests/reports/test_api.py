"""Reports and FAQ promotion over the served app, on a private copy of the prepared data directory:
role checks, the HTML page, unanswered questions recorded masked, and a promoted FAQ answered at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from tests.server.conftest import server_settings
from tests.utils.ticketdb import copy_data_dir

AGENT, SUPERVISOR, ADMIN = "agent-token-0123456789", "super-token-0123456789", "admin-token-0123456789"
QUESTION = "老旧小区加装电梯政府有补贴吗"
REPLY = (
    "根据《A市既有住宅增设电梯指导意见》，符合条件的老旧小区加装电梯每台补贴15万元，由所在区住建部门受理。"
)


@dataclass
class Api:
    client: TestClient

    def get(self, url: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(url, headers=headers)

    def post(self, url: str, token: str | None, body: object = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post(url, json=body, headers=headers)

    def create(self, title: str, content: str) -> str:
        body = {"title": title, "content": content, "phone": "13812345678", "category": "城乡建设"}
        response = self.post("/api/v1/tickets", AGENT, body)
        assert response.status_code == 201, response.text
        return str(response.json()["ticket_no"])

    def move(self, no: str, to: str, **body: object) -> None:
        response = self.post(f"/api/v1/tickets/{no}/transitions", ADMIN, {"to": to, **body})
        assert response.status_code == 200, response.text

    def ask(self, text: str) -> dict[str, object]:
        response = self.client.post("/api/v1/chat", json={"session_id": uuid.uuid4().hex, "text": text})
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
def api(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("reports") / "data"
    # tickets.sqlite is copied too: the knowledge base lives in it
    copy_data_dir(prepared_dir, data_dir)
    settings = server_settings(data_dir)
    settings.secrets.api_tokens = f"{AGENT}:agent,{SUPERVISOR}:supervisor,{ADMIN}:admin"
    with TestClient(create_app(settings)) as client:
        yield Api(client)


@pytest.mark.parametrize("url", ["/api/v1/reports/daily", "/reports/daily"])
def test_reports_need_a_supervisor(api: Api, url: str) -> None:
    assert api.get(url, None).status_code == 401
    assert api.get(url, AGENT).status_code == 403
    assert api.get(url, SUPERVISOR).status_code == 200
    assert api.get(url + "?date=23-11-2026", SUPERVISOR).status_code == 422


def test_page_renders_charts_and_escapes_titles(api: Api) -> None:
    api.create("<script>alert(1)</script>路灯不亮", "东门口路灯坏了。")
    page = api.get("/reports/daily", SUPERVISOR)
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "按一级分类" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    data = api.get("/api/v1/reports/daily", SUPERVISOR).json()
    assert data["received"] >= 1 and {"城乡建设"} <= {c["label"] for c in data["by_category"]}


def test_fallback_questions_are_recorded_masked(api: Api) -> None:
    text = "我家猫咪的疫苗应该打几针？电话13912345678"
    reply = api.ask(text)
    assert reply["action"] == "fallback", reply
    gaps = api.get("/api/v1/reports/daily", SUPERVISOR).json()["kb_gaps"]
    texts = " ".join(g["text"] for g in gaps)
    assert "139****5678" in texts and "13912345678" not in texts


def test_promotion_needs_a_supervisor_and_a_closed_ticket(api: Api) -> None:
    no = api.create("井盖丢失", "人民路井盖丢了。")
    assert api.post(f"/api/v1/tickets/{no}/promote-faq", None).status_code == 401
    assert api.post(f"/api/v1/tickets/{no}/promote-faq", AGENT).status_code == 403
    refused = api.post(f"/api/v1/tickets/{no}/promote-faq", SUPERVISOR)
    assert refused.status_code == 409 and "待受理" in refused.json()["detail"]
    assert api.post("/api/v1/tickets/20000101-0001/promote-faq", SUPERVISOR).status_code == 404


def test_a_promoted_reply_is_answered_right_after(api: Api) -> None:
    before = api.ask(QUESTION)
    assert before.get("item_id") is None or not str(before["item_id"]).startswith("faq-12345-")
    no = api.create(QUESTION, "我们小区是九十年代的老房子，想加装电梯，政府有没有补贴？")
    for step in ("已受理", "已交办", "处理中"):
        api.move(no, step)
    api.move(no, "已反馈", note=REPLY)
    assert api.post(f"/api/v1/tickets/{no}/promote-faq", SUPERVISOR).status_code == 409  # 已反馈: not closed
    api.move(no, "已办结")
    promoted = api.post(
        f"/api/v1/tickets/{no}/promote-faq", SUPERVISOR, {"answer": REPLY + "如再损坏请拨打12345。"}
    )
    assert promoted.status_code == 201, promoted.text
    body = promoted.json()
    assert body["item_id"] == f"faq-12345-{no}" and body["source"] == f"12345工单 {no}"
    assert body["question"] == QUESTION and body["embedded"] == 1  # only the new item was embedded
    assert body["reviewed_by"] == "token-2"
    item = api.client.get(f"/api/v1/kb/items/{body['item_id']}").json()
    assert item["kind"] == "faq" and item["reviewed_by"] == "token-2" and item["answer"].endswith("12345。")
    reply = api.ask(QUESTION)
    assert reply["sources"][0]["id"] == body["item_id"], reply  # type: ignore[index]
    assert reply["action"] == "answer" and reply["item_id"] == body["item_id"], reply
    assert "每台补贴15万元" in str(reply["reply"])
    audit = api.get(f"/api/v1/tickets/{no}", ADMIN).json()["audit"]
    assert audit[-1]["action"] == "promote_faq"
