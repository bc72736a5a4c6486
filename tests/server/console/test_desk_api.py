"""The desk's API against the live app: internal notes (audited, never shown to citizens),
assignment and 我的工单, every view including 待回访 and 已办结, search, and merge candidates in
lists."""

from __future__ import annotations

from typing import Any

import httpx

from tests.server.console.conftest import DEPT, LiveServer

BODY = {
    "title": "幸福路井盖松动",
    "content": "幸福路18号门口的井盖松动，车辆经过响声很大。",
    "phone": "13911112222",
    "category": "城乡建设",
    "location": "幸福路18号",
    "channel": "hotline",
}


def _api(live: LiveServer, who: str) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, headers=live.login(who), timeout=60)


def _create(agent: httpx.Client, **extra: Any) -> str:
    created = agent.post("/api/v1/tickets", json=BODY | extra)
    assert created.status_code == 201, created.text
    number: str = created.json()["ticket_no"]
    return number


def _numbers(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [t["ticket_no"] for t in response.json()]


def test_notes_are_audited_staff_only_and_never_reach_the_citizen(live_server: LiveServer) -> None:
    agent, own, other = (_api(live_server, w) for w in ("agent1", "handler1", "handler2"))
    number = _create(agent, phone="13911113333")
    secret = "市民情绪激动，已答应周五前回电"
    added = agent.post(f"/api/v1/tickets/{number}/notes", json={"text": secret})
    assert added.status_code == 201 and added.json()["author"] == "agent1"
    assert agent.post(f"/api/v1/tickets/{number}/notes", json={"text": "   "}).status_code == 422
    assert agent.post(f"/api/v1/tickets/{number}/notes", json={"text": "x" * 2001}).status_code == 422
    assert other.get(f"/api/v1/tickets/{number}/notes").status_code == 404  # another department's
    assert httpx.get(f"{live_server.base_url}/api/v1/tickets/{number}/notes").status_code == 401
    agent.post(f"/api/v1/tickets/{number}/transitions", json={"to": "已受理"})
    agent.post(f"/api/v1/tickets/{number}/transitions", json={"to": "已交办", "department": DEPT})
    reply = own.post(f"/api/v1/tickets/{number}/notes", json={"text": "已派人现场查看"})
    assert reply.status_code == 201
    notes = agent.get(f"/api/v1/tickets/{number}/notes").json()
    assert [(n["author"], n["text"]) for n in notes] == [("agent1", secret), ("handler1", "已派人现场查看")]
    audit = agent.get(f"/api/v1/tickets/{number}").json()["audit"]
    noted = [a for a in audit if a["action"] == "note"]
    assert [a["actor"] for a in noted] == ["agent1", "handler1"]
    assert secret not in str(audit)  # the trail says that a note was written, not what
    status = httpx.post(
        f"{live_server.base_url}/api/v1/tickets/status", json={"ticket_no": number, "phone_last4": "3333"}
    )
    assert status.status_code == 200 and secret not in status.text and "回电" not in status.text


def test_assignment_fills_my_tickets_and_stays_within_the_department(live_server: LiveServer) -> None:
    agent, own, own_b, other = (_api(live_server, w) for w in ("agent1", "handler1", "handler1b", "handler2"))
    sup = _api(live_server, "sup1")
    number = _create(sup, phone="13911114444")
    assert number not in _numbers(agent.get("/api/v1/tickets", params={"queue": "mine"}))
    accepted = agent.post(f"/api/v1/tickets/{number}/transitions", json={"to": "已受理"})
    assert accepted.json()["assignee"] == "agent1"  # who accepts has it
    assert number in _numbers(agent.get("/api/v1/tickets", params={"queue": "mine"}))
    agent.post(f"/api/v1/tickets/{number}/transitions", json={"to": "已交办", "department": DEPT})

    people = {p["username"]: p for p in own.get(f"/api/v1/tickets/{number}/assignable").json()}
    assert set(people) == {"handler1", "handler1b"} and people["handler1b"]["role_label"] == "承办人员"
    assert own.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "handler2"}).status_code == 403
    assert own.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "agent1"}).status_code == 403
    assert other.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "handler2"}).status_code == 404
    assert agent.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "handler2"}).status_code == 422
    assert agent.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "nobody"}).status_code == 422
    given = own.post(f"/api/v1/tickets/{number}/assign", json={"assignee": "handler1b"})
    assert given.status_code == 200 and given.json()["assignee"] == "handler1b"
    assert number in _numbers(own_b.get("/api/v1/tickets", params={"queue": "mine"}))
    assert number not in _numbers(own.get("/api/v1/tickets", params={"queue": "mine"}))
    listed = {t["ticket_no"]: t for t in own.get("/api/v1/tickets", params={"queue": "department"}).json()}
    assert listed[number]["assignee"] == "handler1b"
    trail = [a for a in agent.get(f"/api/v1/tickets/{number}").json()["audit"] if a["action"] == "assign"]
    assert trail[-1]["actor"] == "handler1" and trail[-1]["changes"]["assignee"] == [None, "handler1b"]


def test_every_state_has_a_view_and_callback_is_reachable_from_a_list(live_server: LiveServer) -> None:
    agent, own = _api(live_server, "agent1"), _api(live_server, "handler1")
    number = _create(agent, phone="13911115555")
    for step, who in (
        ({"to": "已受理"}, agent),
        ({"to": "已交办", "department": DEPT}, agent),
        ({"to": "处理中"}, own),
        ({"to": "已反馈", "note": "井盖已更换"}, own),
        ({"to": "已办结"}, agent),
    ):
        assert who.post(f"/api/v1/tickets/{number}/transitions", json=step).status_code == 200
    assert number in _numbers(agent.get("/api/v1/tickets", params={"queue": "awaiting_callback"}))
    assert number in _numbers(agent.get("/api/v1/tickets", params={"queue": "closed"}))
    assert number not in _numbers(agent.get("/api/v1/tickets", params={"queue": "open"}))
    found = agent.get("/api/v1/tickets/search", params={"q": "5555", "status": "已办结"})
    assert _numbers(found) == [number]
    agent.post(f"/api/v1/tickets/{number}/transitions", json={"to": "已回访", "satisfaction": "满意"})
    assert number not in _numbers(agent.get("/api/v1/tickets", params={"queue": "awaiting_callback"}))
    assert number in _numbers(agent.get("/api/v1/tickets", params={"queue": "closed"}))


def test_a_likely_duplicate_is_flagged_in_lists_while_open(live_server: LiveServer) -> None:
    agent = _api(live_server, "agent1")
    first = _create(agent, phone="13911116666", location="和平路99号", title="和平路99号路灯不亮")
    second = _create(agent, phone="13911117777", location="和平路99号", title="和平路99号路灯不亮")
    rows = {t["ticket_no"]: t for t in agent.get("/api/v1/tickets/search", params={"q": "和平路99号"}).json()}
    assert rows[second]["duplicate_of"] == first and rows[first]["duplicate_of"] is None
    merged = agent.post(f"/api/v1/tickets/{second}/transitions", json={"to": "已合并", "merged_into": first})
    assert merged.status_code == 200
    rows = {t["ticket_no"]: t for t in agent.get("/api/v1/tickets/search", params={"q": "和平路99号"}).json()}
    assert rows[second]["duplicate_of"] is None  # merged: no longer a candidate
