"""The ticket API over a served app, on SQLite and PostgreSQL: the Rasa action's contract,
role checks, masking, transitions, queues, the citizens' status look-up, log-in, and 50
concurrent creations."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from server.app import create_app
from tests.server.conftest import AGENT_TOKEN, server_settings
from tests.utils.ticketdb import BACKENDS, database_url
from tickets.intake import TicketReceipt
from tickets.models import Ticket

DEPT = "市住房城乡建设局"
PASSWORD = "correct-horse-9"


@dataclass
class Api:
    client: TestClient
    app: FastAPI
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def create(self, **fields: object) -> dict[str, object]:
        body = {
            "title": "小区路灯坏了",
            "content": "幸福小区东门口的路灯坏了一个星期。",
            "phone": "13812345678",
            "name": "张三",
            "category": "城乡建设",
            "channel": "api",
        } | fields
        response = self.client.post("/api/v1/tickets", json=body, headers=self.headers("agent"))
        assert response.status_code == 201, response.text
        return dict(response.json())

    def move(self, no: object, who: str, **body: object) -> Any:
        return self.client.post(f"/api/v1/tickets/{no}/transitions", json=body, headers=self.headers(who))


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    with database_url(request.param, tmp_path_factory.mktemp("tickets-api")) as url:
        settings = server_settings(prepared_dir)
        settings.secrets.database_url = url
        settings.tickets.status_rate_per_ip = 4  # the malformed look-up never reaches the route
        app = create_app(settings)
        with TestClient(app) as client:  # the lifespan migrates the database
            desk = app.state.desk
            desk.add_user("handler1", PASSWORD, role="handler", department=DEPT)
            desk.add_user("handler2", PASSWORD, role="handler", department="市生态环境局")
            tokens = {"agent": AGENT_TOKEN}
            for name in ("handler1", "handler2"):
                login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
                assert login.status_code == 200, login.text
                tokens[name] = login.json()["access_token"]
            yield Api(client, app, tokens)


def test_create_follows_the_rasa_contract(api: Api) -> None:
    body = api.create(location="幸福小区东门")
    assert re.fullmatch(r"\d{8}-\d{4}", str(body["ticket_no"]))
    assert body["status"] == "待受理"
    assert body["department"] == DEPT and body["category"] == "城乡建设"
    assert {"feedback_deadline", "completion_deadline", "received_at", "urgency"} <= set(body)


def test_create_needs_a_token_and_valid_data(api: Api) -> None:
    body = {"title": "t", "content": "c", "phone": "13812345678", "channel": "web"}
    assert api.client.post("/api/v1/tickets", json=body).status_code == 401
    bad = api.client.post("/api/v1/tickets", json=body, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    wrong_phone = api.client.post(
        "/api/v1/tickets", json=body | {"phone": "12345"}, headers=api.headers("agent")
    )
    assert wrong_phone.status_code == 422
    unknown = api.client.post(
        "/api/v1/tickets", json=body | {"category": "火星事务"}, headers=api.headers("agent")
    )
    assert unknown.status_code == 422 and "火星事务" in unknown.json()["detail"]


@pytest.mark.parametrize("channel", ["web", "wechat", "hotline", "api", "rasa"])
def test_every_channel_of_the_vocabulary_is_stored_as_sent(api: Api, channel: str) -> None:
    no = api.create(channel=channel)["ticket_no"]
    shown = api.client.get(f"/api/v1/tickets/{no}", headers=api.headers("agent")).json()
    assert shown["channel"] == channel


@pytest.mark.parametrize("channel", ["rest", "sms", "RASA", ""])
def test_an_unknown_channel_is_refused_with_the_valid_names_and_nothing_stored(
    api: Api, channel: str
) -> None:
    before = _count(api)
    refused = api.client.post(
        "/api/v1/tickets",
        json={"content": "路灯坏了", "phone": "13812345678", "channel": channel},
        headers=api.headers("agent"),
    )
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == ["body", "channel"]
    assert all(f"'{name}'" in problem["msg"] for name in ("web", "wechat", "hotline", "api", "rasa"))
    assert _count(api) == before


def test_the_answer_is_the_intake_receipt_and_a_missing_title_is_the_first_sentence(api: Api) -> None:
    sent = {"content": "东门路灯不亮。已经一个星期了。", "phone": "13812345678", "channel": "rasa"}
    response = api.client.post("/api/v1/tickets", json=sent, headers=api.headers("agent"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == set(TicketReceipt.model_fields)
    shown = api.client.get(f"/api/v1/tickets/{body['ticket_no']}", headers=api.headers("agent")).json()
    assert shown["title"] == "东门路灯不亮"
    for name in ("status", "urgency", "department", "received_at", "feedback_deadline"):
        assert shown[name] == body[name], name


def _count(api: Api) -> int:
    with api.app.state.desk.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def test_the_category_is_predicted_when_absent(api: Api) -> None:
    body = api.create(
        category=None,
        title="工地夜间施工噪音",
        content="隔壁工地每天晚上十二点以后还在打桩施工，噪音太大，无法休息。",
    )
    settings = api.app.state.settings
    assert body["category"] in settings.tickets.routing
    assert body["department"] == settings.tickets.routing[body["category"]]


def test_who_may_read_a_ticket(api: Api) -> None:
    no = api.create()["ticket_no"]
    assert api.client.get(f"/api/v1/tickets/{no}").status_code == 401
    as_agent = api.client.get(f"/api/v1/tickets/{no}", headers=api.headers("agent"))
    assert as_agent.status_code == 200 and as_agent.json()["phone"] == "138****5678"
    assert as_agent.json()["audit"][0]["action"] == "create"
    as_handler = api.client.get(f"/api/v1/tickets/{no}", headers=api.headers("handler1"))
    assert as_handler.status_code == 200 and as_handler.json()["phone"] == "13812345678"
    other = api.client.get(f"/api/v1/tickets/{no}", headers=api.headers("handler2"))
    assert other.status_code == 404
    assert other.json()["detail"] == api.client.get(
        "/api/v1/tickets/20990101-9999", headers=api.headers("handler2")
    ).json()["detail"].replace("20990101-9999", str(no))


def test_transitions_over_http(api: Api) -> None:
    no = api.create()["ticket_no"]
    assert api.move(no, "handler1", to="已受理").status_code == 403
    assert api.move(no, "agent", to="已受理").json()["status"] == "已受理"
    illegal = api.move(no, "agent", to="已办结")
    assert illegal.status_code == 409
    assert illegal.json()["allowed"] == ["已交办", "已合并"] and "已受理" in illegal.json()["detail"]
    assert api.move(no, "agent", to="已交办", department=DEPT).status_code == 200
    assert api.move(no, "handler2", to="处理中").status_code == 404
    started = api.move(no, "handler1", to="处理中")
    assert started.status_code == 200 and started.json()["assignee"] == "handler1"
    mine = api.client.get("/api/v1/tickets", params={"queue": "mine"}, headers=api.headers("handler1"))
    assert no in [t["ticket_no"] for t in mine.json()]
    department = api.client.get(
        "/api/v1/tickets", params={"queue": "department"}, headers=api.headers("handler2")
    )
    assert department.status_code == 200 and no not in [t["ticket_no"] for t in department.json()]
    listed = api.client.get("/api/v1/tickets", params={"queue": "all"}, headers=api.headers("handler2"))
    assert all(t["department"] == "市生态环境局" for t in listed.json())
    assert (
        api.client.get("/api/v1/tickets", params={"queue": "bogus"}, headers=api.headers("agent")).status_code
        == 422
    )


def test_search_over_http(api: Api) -> None:
    """Number, phone suffix and words through the one box; a state filter; only what you may see."""
    marker = f"标记{uuid.uuid4().hex[:8]}"  # the fixture is shared: a word only this ticket has
    no = api.create(content=f"幸福小区东门口的路灯坏了（{marker}）", phone="13822224444")["ticket_no"]

    def search(who: str = "agent", **params: object) -> httpx.Response:
        return api.client.get("/api/v1/tickets/search", params=params, headers=api.headers(who))

    for box in (no, no.replace("-", ""), marker):
        found = search(q=box)
        assert found.status_code == 200 and no in [t["ticket_no"] for t in found.json()], box
    assert no in [t["ticket_no"] for t in search(phone="4444", status=["待受理"]).json()]
    assert no not in [t["ticket_no"] for t in search(q=marker, status=["已办结"]).json()]
    assert search(q=marker, who="handler2").json() == []  # routed to another department
    assert search(status=["不存在"]).status_code == 422
    assert search(queue="bogus").status_code == 422
    assert api.client.get("/api/v1/tickets/search", params={"q": no}).status_code == 401


def test_edit_before_dispatch(api: Api) -> None:
    no = api.create()["ticket_no"]
    edited = api.client.patch(
        f"/api/v1/tickets/{no}",
        json={"category": "环境保护", "title": "噪音扰民"},
        headers=api.headers("agent"),
    )
    assert edited.status_code == 200
    assert edited.json()["department"] == "市生态环境局" and edited.json()["title"] == "噪音扰民"
    assert (
        api.client.patch(
            f"/api/v1/tickets/{no}", json={"title": "x"}, headers=api.headers("handler2")
        ).status_code
        == 403
    )


def test_citizens_look_up_status_without_personal_data(api: Api) -> None:
    no = api.create(phone="13912348765")["ticket_no"]
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app, client=("10.1.2.3", 4000)), base_url="http://t"
    )

    async def look(ticket_no: object, last4: str) -> httpx.Response:
        return await client.post(
            "/api/v1/tickets/status", json={"ticket_no": ticket_no, "phone_last4": last4}
        )

    async def scenario() -> list[httpx.Response]:
        async with client:
            return [
                await look(no, "8765"),
                await look(no, "0000"),
                await look("20990101-0001", "8765"),
                await look(no, "87"),
                await look(no, "8765"),
                await look(no, "8765"),  # the fifth counted in a minute: over the limit of 4
            ]

    ok, wrong, unknown, malformed, _, limited = asyncio.run(scenario())
    assert ok.status_code == 200
    assert set(ok.json()) == {
        "ticket_no",
        "status",
        "received_at",
        "feedback_deadline",
        "completion_deadline",
        "feedback_at",
        "completed_at",
    }
    assert "13912348765" not in ok.text and "张三" not in ok.text
    assert wrong.status_code == unknown.status_code == 404
    assert (
        wrong.json()["detail"] == f"no ticket {no}" and unknown.json()["detail"] == "no ticket 20990101-0001"
    )
    assert malformed.status_code == 422
    assert limited.status_code == 429


def test_login(api: Api) -> None:
    wrong = api.client.post("/api/v1/auth/login", json={"username": "handler1", "password": "wrong-password"})
    nobody = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"]
    me = api.client.get("/api/v1/auth/me", headers=api.headers("handler1")).json()
    assert me == {"name": "handler1", "role": "handler", "department": DEPT}
    static = api.client.get("/api/v1/auth/me", headers=api.headers("agent")).json()
    assert static["role"] == "agent"


def test_fifty_concurrent_creations_are_all_stored_once(api: Api) -> None:
    desk = api.app.state.desk
    with desk.db.session() as s:
        before = s.scalar(select(func.count()).select_from(Ticket))

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.app, client=("10.9.9.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/tickets",
                        json={
                            "title": f"并发工单{n}",
                            "content": f"第{n}号并发测试工单。",
                            "phone": "13812345678",
                            "category": "城乡建设",
                            "channel": "api",
                        },
                        headers=api.headers("agent"),
                    )
                    for n in range(50)
                )
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [201] * 50, [
        r.text for r in responses if r.status_code != 201
    ]
    numbers = [r.json()["ticket_no"] for r in responses]
    assert len(set(numbers)) == 50
    with desk.db.session() as s:
        # titles are sealed at rest: compared once opened, not in SQL
        stored = [t for t in s.scalars(select(Ticket.title)) if t.startswith("并发工单")]
        total = s.scalar(select(func.count()).select_from(Ticket))
    assert sorted(stored) == sorted(f"并发工单{n}" for n in range(50))
    assert total == before + 50
    sequence = sorted(int(n.split("-")[1]) for n in numbers)
    assert sequence == list(range(sequence[0], sequence[0] + 50))  # no gaps, no repeats
