"""The console's files and its two JSON endpoints (meta, draft), over the live server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.console import FILES, STATIC_DIR
from tests.server.console.conftest import DEPT, OTHER_DEPT, LiveServer
from tickets.schemas import TicketCreate, first_sentence


def test_console_page_and_files_are_served_with_a_strict_policy(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.base_url}/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="login-form"' in page.text and "/console/console.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy

    script = httpx.get(f"{live_server.base_url}/console/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{live_server.base_url}/console/console.css").status_code == 200
    redirect = httpx.get(f"{live_server.base_url}/console")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/console/"


@pytest.mark.parametrize("name", ["index.py", "..%2F..%2Fapp.py", "demo.html"])
def test_only_the_console_files_are_served(live_server: LiveServer, name: str) -> None:
    assert httpx.get(f"{live_server.base_url}/console/{name}").status_code == 404


def test_the_page_builds_nodes_without_html_strings_or_remote_resources() -> None:
    sources = {p.name: p.read_text(encoding="utf-8") for p in Path(STATIC_DIR).iterdir()}
    assert set(sources) == {"index.html", *FILES}  # every file there is served, nothing else is
    for name in (n for n in sources if n.endswith(".js")):
        assert "innerHTML" not in sources[name] and "insertAdjacentHTML" not in sources[name], name
    for name, text in sources.items():
        assert "https://" not in text and "http://" not in text and "//cdn" not in text, name


def test_meta_needs_a_login_and_describes_the_desk(live_server: LiveServer) -> None:
    url = f"{live_server.base_url}/api/v1/console/meta"
    assert httpx.get(url).status_code == 401
    meta = httpx.get(url, headers=live_server.login("handler1")).json()
    assert meta["user"] == {"name": "handler1", "role": "handler", "department": DEPT}
    assert {DEPT, OTHER_DEPT} <= set(meta["departments"])
    assert "城乡建设" in meta["categories"]
    assert 0 < meta["at_risk_fraction"] < 1
    assert "transitions" not in meta and "states" not in meta  # the vocabulary is /api/v1/vocab


def test_vocab_is_public_and_cacheable_for_the_console(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.base_url}/api/v1/vocab")  # no login
    assert response.status_code == 200
    assert "max-age=" in response.headers["cache-control"]
    steps = {(s["from"], s["to"]): (s["action"], s["by"]) for s in response.json()["transitions"]}
    assert steps[("待受理", "已受理")] == ("accept", "centre")
    assert steps[("已交办", "处理中")] == ("start", "handler")
    assert steps[("已交办", "已交办")] == ("redispatch", "centre")


def test_draft_prefills_a_ticket_from_a_transcript(live_server: LiveServer) -> None:
    text = "小区楼道里有燃气泄漏的味道，很危险！我的电话是13912345678，住在幸福小区3栋。请尽快派人来看看。"
    response = httpx.post(
        f"{live_server.base_url}/api/v1/console/draft",
        json={"text": text},
        headers=live_server.login("agent1"),
    )
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["title"] == "小区楼道里有燃气泄漏的味道，很危险"
    assert draft["content"] == text
    assert draft["phone"] == "13912345678"
    assert draft["urgent_keyword"] == "燃气泄漏"


def test_a_confirmed_draft_is_what_the_ticket_door_stores(live_server: LiveServer) -> None:
    """The console's two steps against the real server: draft, then the body console.js posts."""
    agent = live_server.login("agent1")
    text = "小区楼道里有燃气泄漏的味道，很危险！我的电话是13912345678，住在幸福小区3栋。请尽快派人来看看。"
    drafted = httpx.post(f"{live_server.base_url}/api/v1/console/draft", json={"text": text}, headers=agent)
    draft = drafted.json()
    body = {
        "title": draft["title"],
        "content": draft["content"],
        "phone": draft["phone"],
        "location": draft["location"],
        "category": draft["category"] or "城乡建设",
        "type": "求助",
        "channel": "hotline",
        "urgent": draft["urgent_keyword"] is not None,
        "urgent_reason": f"涉及“{draft['urgent_keyword']}”",
    }
    created = httpx.post(f"{live_server.base_url}/api/v1/tickets", json=body, headers=agent)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["urgency"] == "urgent" and receipt["category"].startswith(body["category"].split("/")[0])
    shown = httpx.get(f"{live_server.base_url}/api/v1/tickets/{receipt['ticket_no']}", headers=agent).json()
    # an agent sees the numbers in the content masked (only the department's handler needs them)
    masked = text.replace("13912345678", "139****5678")
    assert (shown["title"], shown["content"], shown["channel"]) == (draft["title"], masked, "hotline")
    assert shown["created_by"] == "agent1" and shown["urgent_reason"] == body["urgent_reason"]
    assert shown["audit"][0]["action"] == "create" and shown["audit"][0]["actor"] == "agent1"


def test_draft_skips_service_numbers_and_needs_a_login(live_server: LiveServer) -> None:
    url = f"{live_server.base_url}/api/v1/console/draft"
    body = {"text": "我打过12345了，路灯还是不亮"}
    draft = httpx.post(url, json=body, headers=live_server.login("agent1")).json()
    assert draft["phone"] is None and draft["urgent_keyword"] is None
    assert draft["title"] == "我打过12345了，路灯还是不亮"
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json={"text": ""}, headers=live_server.login("agent1")).status_code == 422


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("路灯坏了。晚上很黑", "路灯坏了"),
        ("  噪音扰民！每天凌晨施工  ", "噪音扰民"),
        ("没有句号的一句话", "没有句号的一句话"),
        ("长" * 60, "长" * 39 + "…"),
        ("。只有标点开头", "。只有标点开头"),
    ],
)
def test_first_sentence_is_the_title(text: str, title: str) -> None:
    """The draft's title rule is the contract's: a ticket given no title gets the same one."""
    assert first_sentence(text) == title
    assert TicketCreate(content=text, phone="13812345678").title == title
