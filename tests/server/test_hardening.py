"""Issue 11 against the real app: every route × role × department against core.permissions,
strict JSON at the boundary, status brute force through chat and API, the chat form that never
gets stuck, long Rasa sender ids, trusted upstreams, and the database going away (503, /readyz)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core import permissions
from server.app import create_app
from server.deps import require
from tests.server.conftest import ADMIN_TOKEN, AGENT_TOKEN, server_settings
from tests.utils.ticketdb import copy_data_dir
from tickets.db import TicketDB
from tickets.models import Ticket

DEPT, OTHER = "市住房城乡建设局", "市生态环境局"
PASSWORD = "correct-horse-9"
PUBLIC = {  # routes anyone may call; every other route must name an action of the matrix
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/chat",
    "/api/v1/tickets/status",
    "/api/v1/auth/login",
    "/api/v1/kb/items/{item_id}",
    "/api/v1/vocab",
    "/model/parse",
    "/webhooks/rest/",
    "/webhooks/rest/webhook",
    "/",  # the demo portal page, the widget's files and the console's static shell
    "/widget.js",
    "/widget.css",
    "/console",
    "/console/",
    "/console/{name}",
    "/api/v1/handoff/{conversation}/lines",  # a citizen reads their own chat with its secret token
    "/api/v1/handoff/{conversation}/events",
}
BODY = {
    "title": "小区路灯坏了",
    "content": "幸福小区东门口的路灯坏了一个星期。",
    "phone": "13812345678",
    "category": "城乡建设",
    "channel": "api",
}


@dataclass(frozen=True)
class Caller:
    role: str
    department: str | None
    token: str


@dataclass
class Served:
    client: TestClient
    app: FastAPI
    callers: dict[str, Caller]

    def tickets(self) -> int:
        with self.app.state.desk.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Ticket)) or 0)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.callers[who].token}"}


@pytest.fixture(scope="module")
def served(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # a private copy: tickets and the knowledge base share the data directory's database
    data_dir = tmp_path_factory.mktemp("hardening") / "data"
    copy_data_dir(prepared_dir, data_dir)
    settings = server_settings(data_dir)
    settings.server.trusted_upstreams = ["rasa-host"]
    # the walk asks every route as every caller from one address: far more than a minute's
    # per-address allowance, which test_server.py checks on its own
    settings.server.rate_per_ip = 5000
    settings.handoff.stream_seconds = 0  # event streams end at once: the walk reads every body to its end
    app = create_app(settings)
    with TestClient(app) as client:
        desk = app.state.desk
        callers = {"agent": Caller("agent", None, AGENT_TOKEN), "admin": Caller("admin", None, ADMIN_TOKEN)}
        for name, role, dept in (
            ("sup", "supervisor", None),
            ("own", "handler", DEPT),
            ("other", "handler", OTHER),
        ):
            desk.add_user(name, PASSWORD, role=role, department=dept)
            login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
            assert login.status_code == 200, login.text
            callers[name] = Caller(role, dept, login.json()["access_token"])
        yield Served(client, app, callers)


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    dependant: Any


def _endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (path, method) the app serves, included routers flattened (this FastAPI keeps
    included routers lazy: their effective routes carry the full path and the dependencies)."""
    found: list[Endpoint] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            contexts: list[Any] = [route]
        elif hasattr(route, "effective_candidates"):
            contexts = list(route.effective_candidates())
        else:
            continue
        for ctx in contexts:
            for method in sorted(set(ctx.methods) - {"HEAD"}):
                found.append(Endpoint(ctx.path, method, ctx.dependant))
    return found


def _action(endpoint: Endpoint) -> str | None:
    stack = list(endpoint.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, require):
            return dep.call.action
        stack.extend(dep.dependencies)
    return None


def test_every_route_is_public_or_names_an_action_of_the_matrix(served: Served) -> None:
    endpoints = _endpoints(served.app)
    assert len(endpoints) >= 25
    unguarded = {e.path for e in endpoints if _action(e) is None}
    platform = {p for p in unguarded if p.startswith("/connectors/") or "callback" in p}  # signed, not staff
    assert unguarded - platform == PUBLIC
    for endpoint in endpoints:
        if (action := _action(endpoint)) is not None:
            assert action in permissions.MATRIX


def test_every_route_times_every_role_and_department_follows_the_matrix(served: Served) -> None:
    client = served.client
    receipt = client.post("/api/v1/tickets", json=BODY, headers=served.auth("agent"))
    assert receipt.status_code == 201 and receipt.json()["department"] == DEPT
    number = receipt.json()["ticket_no"]
    live = served.app.state.live.store.open(session_id="web:walk", channel="web", transcript=[])
    checked = 0
    logout_last = sorted(_endpoints(served.app), key=lambda e: e.path.endswith("/logout"))
    for endpoint in logout_last:
        action, method = _action(endpoint), endpoint.method
        if action is None:
            continue
        path = endpoint.path.replace("{ticket_no}", number).replace("{conversation}", str(live.id))
        assert "{" not in path, path
        # a body the schema accepts, so the answer is about who asks (a state that does not
        # exist: the lifecycle refuses it after the ticket is found, never with 403)
        body = {"to": "不存在的状态"} if path.endswith("/transitions") else {}
        body = {"text": "巡检备注"} if path.endswith("/notes") else body
        body = body if method in ("POST", "PATCH", "PUT") else None
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        for who, caller in served.callers.items():
            response = client.request(method, path, json=body, headers=served.auth(who))
            where = permissions.scope(caller.role, action)
            about_ticket = "{ticket_no}" in endpoint.path
            if where is None:
                expected = {403}
            elif where == permissions.OWN and about_ticket and caller.department != DEPT:
                expected = {403, 404}  # another department's ticket: refused or not even found
            else:
                expected = None
            if expected is None:
                assert response.status_code not in (401, 403, 404), (method, path, who, response.text)
            else:
                assert response.status_code in expected, (method, path, who, response.status_code)
            checked += 1
    assert checked >= 5 * 12
    for name in ("sup", "own", "other"):  # the walk logged them out: the old tokens are dead
        assert client.get("/api/v1/auth/me", headers=served.auth(name)).status_code == 401
        login = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        caller = served.callers[name]
        served.callers[name] = Caller(caller.role, caller.department, login.json()["access_token"])


def test_a_handler_cannot_create_edit_or_reroute(served: Served) -> None:
    before = served.tickets()
    for who in ("own", "other"):
        refused = served.client.post(
            "/api/v1/tickets", json=BODY | {"department": OTHER, "urgent": True}, headers=served.auth(who)
        )
        assert refused.status_code == 403
    assert served.tickets() == before
    number = served.client.post("/api/v1/tickets", json=BODY, headers=served.auth("agent")).json()[
        "ticket_no"
    ]
    patch = served.client.patch(
        f"/api/v1/tickets/{number}", json={"category": "环境保护"}, headers=served.auth("own")
    )
    assert patch.status_code == 403


@pytest.mark.parametrize("department", ["' OR '1'='1", "不存在的局"])
def test_unknown_departments_are_refused_everywhere_and_nothing_is_stored(
    served: Served, department: str
) -> None:
    before = served.tickets()
    created = served.client.post(
        "/api/v1/tickets", json=BODY | {"department": department}, headers=served.auth("agent")
    )
    assert created.status_code == 422 and served.tickets() == before
    number = served.client.post("/api/v1/tickets", json=BODY, headers=served.auth("agent")).json()[
        "ticket_no"
    ]
    move = f"/api/v1/tickets/{number}/transitions"
    assert served.client.post(move, json={"to": "已受理"}, headers=served.auth("agent")).status_code == 200
    sent = served.client.post(
        move, json={"to": "已交办", "department": department}, headers=served.auth("agent")
    )
    assert sent.status_code == 422
    shown = served.client.get(f"/api/v1/tickets/{number}", headers=served.auth("agent")).json()
    assert shown["status"] == "已受理"


def test_logout_revokes_the_token(served: Served) -> None:
    served.app.state.desk.add_user("leaver", PASSWORD, role="agent", department=None)
    token = served.client.post(
        "/api/v1/auth/login", json={"username": "leaver", "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert served.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert served.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert served.client.get("/api/v1/auth/me", headers=headers).status_code == 401


BAD_BODIES = [
    b'{"session_id": "s1", "text": NaN, "channel": "web"}',
    b'{"session_id": "s1", "text": "x", "n": 1e999}',
    b'{"session_id": "s1", "text": "\\ud800", "channel": "web"}',
    b'{"session_id": "s1", "text": "a\\u0000b", "channel": "web"}',
    b'{"ticket_no": "\\ud800", "phone_last4": "1234"}',
    b'{"username": "\\ud800", "password": NaN}',
    b'{"title": "t", "content": "NUL \\u0000 here", "phone": "13812345678", "channel": "api"}',
]


@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize(
    "path", ["/api/v1/chat", "/api/v1/tickets/status", "/api/v1/auth/login", "/api/v1/tickets"]
)
def test_unstorable_json_is_a_4xx_and_nothing_is_stored(served: Served, path: str, body: bytes) -> None:
    before = served.tickets()
    headers = {"Content-Type": "application/json", **served.auth("agent")}
    response = served.client.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert "invalid JSON body" in response.json()["detail"]
    assert served.tickets() == before


def test_patch_with_a_null_field_is_422(served: Served) -> None:
    number = served.client.post("/api/v1/tickets", json=BODY, headers=served.auth("agent")).json()[
        "ticket_no"
    ]
    for field in ("title", "content", "urgent"):
        response = served.client.patch(
            f"/api/v1/tickets/{number}", json={field: None}, headers=served.auth("agent")
        )
        assert response.status_code == 422, response.text


def _say(client: TestClient, session: str, text: str) -> dict[str, Any]:
    response = client.post("/api/v1/chat", json={"session_id": session, "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_status_guesses_from_rotating_sessions_and_addresses_find_nothing(served: Served) -> None:
    number = served.client.post(
        "/api/v1/tickets", json=BODY | {"phone": "13912340042"}, headers=served.auth("agent")
    ).json()["ticket_no"]
    guesses = [f"{n:04d}" for n in range(40) if n != 42] + ["0042"]
    found = []
    for n, guess in enumerate(guesses):
        reply = _say(served.client, uuid.uuid4().hex, f"查询工单{number} 手机尾号{guess}")
        if reply["ticket"]:
            found.append(guess)
        api = served.client.post(
            "/api/v1/tickets/status",
            json={"ticket_no": number, "phone_last4": guess},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},  # not a trusted proxy: ignored
        )
        if api.status_code == 200:
            found.append(guess)
        elif n >= 5:
            assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
    assert found == []
    assert "暂停查询" in reply["reply"]


def test_a_refused_form_field_is_asked_again_and_the_form_goes_through(served: Served) -> None:
    session = uuid.uuid4().hex
    client = served.client
    first = _say(client, session, "小区门口的路灯坏了一个多月，晚上漆黑一片，老人摔倒过好几次")
    assert first["form"]["step"] == "location"
    for text in ("海珠区江南大道中" + "八十八号大院" * 50, "13812345678", "跳过", "同意"):
        _say(client, session, text)
    refused = _say(client, session, "确认提交")
    assert refused["form"]["step"] == "location" and "事发地点" in refused["reply"]
    assert _say(client, session, "海珠区江南大道中88号")["form"]["step"] == "confirm"
    done = _say(client, session, "确认提交")
    assert done["form"] is None and re.fullmatch(r"\d{8}-\d{4}", done["ticket"]["ticket_no"])


def test_a_long_rasa_sender_id_gets_a_reply(served: Served) -> None:
    sender = "s" * 500
    response = served.client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": "居住证怎么办"}
    )
    assert response.status_code == 200 and response.json()[0]["recipient_id"] == sender


def test_a_trusted_upstream_is_limited_per_session_not_per_address(
    copy_prepared: Callable[[], Path], tmp_path: Path
) -> None:
    # a private copy: with an empty database of its own, the app syncs the data directory's
    # index to that empty knowledge base, which later tests of the shared directory would read
    settings = server_settings(copy_prepared(), rate_per_ip=3, rate_per_session=100)
    settings.secrets.database_url = f"sqlite:///{tmp_path / 'tickets.sqlite'}"
    settings.server.trusted_upstreams = ["testclient"]  # TestClient's address
    with TestClient(create_app(settings)) as client:
        codes = [client.get("/api/v1/vocab").status_code for _ in range(8)]
    assert codes == [200] * 8


def test_database_down_is_503_with_retry_after_and_readyz_says_which(served: Served) -> None:
    desk = served.app.state.desk
    assert served.client.get("/readyz").json()["dependencies"]["database"]["ok"] is True
    real = desk.db
    desk.db = TicketDB("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    try:
        listed = served.client.get("/api/v1/tickets", headers=served.auth("agent"))
        assert listed.status_code == 503 and int(listed.headers["Retry-After"]) > 0
        shown = served.client.get("/api/v1/tickets/20260101-0001", headers=served.auth("agent"))
        assert shown.status_code == 503
        ready = served.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["dependencies"]["database"]["ok"] is False
        assert served.client.get("/healthz").status_code == 200
        said = _say(served.client, uuid.uuid4().hex, "居住证怎么办")
        assert said["action"] in ("answer", "clarify"), said
    finally:
        desk.db.dispose()
        desk.db = real
    assert served.client.get("/readyz").status_code == 200
