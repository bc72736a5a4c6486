"""Done-when of the administration pages, in headless Chromium against two workers sharing one
data directory (each its own warm engine and in-process index, as `govbot serve --workers 2`
runs): a supervisor on worker A creates a user, imports a file, unpublishes an item and turns an
unanswered question into an FAQ; a citizen's widget on worker B then gets the new answer, and no
longer the unpublished one, without either worker restarting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import server_settings
from tests.server.console.conftest import PASSWORD, LiveServer, serve
from tests.server.console.test_console_browser import browser, open_console  # noqa: F401 - the fixture
from tests.utils.screens import SCREENS
from tests.utils.ticketdb import copy_data_dir
from tickets.service import TicketDesk

CAT_QUESTION = "我家猫咪的疫苗应该打几针？"
CAT_ANSWER = "幼猫一般接种猫三联疫苗三针，每针间隔三到四周，满十六周后再接种狂犬疫苗一针。"
RECORDS = [
    {
        "kind": "faq",
        "id": "faq-night-dog",
        "question": "小区里遛狗必须拴绳吗？",
        "answer": "必须拴绳，绳长不超过1.5米。",
    },
    {
        "kind": "faq",
        "id": "faq-night-bike",
        "question": "共享单车乱停放向谁反映？",
        "answer": "可拨打12345或向所在区城管部门反映。",
    },
]


@pytest.fixture(scope="module")
def workers(
    prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, LiveServer]]:
    data_dir = tmp_path_factory.mktemp("admin-browser") / "data"
    copy_data_dir(prepared_dir, data_dir)  # on PostgreSQL: its own schema too
    first, second = server_settings(data_dir), server_settings(data_dir)
    for settings in (first, second):
        settings.index.sync_poll_seconds = 1  # SQLite has no NOTIFY: each worker looks every second
    desk = TicketDesk(first)
    try:
        desk.migrate()
        desk.add_user("sup1", PASSWORD, role="supervisor", department=None)
    finally:
        desk.close()
    with serve(first) as a, serve(second) as b:
        yield a, b


def login_token(worker: LiveServer, username: str, password: str) -> str:
    response = httpx.post(
        f"{worker.base_url}/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def ask(base_url: str, text: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base_url}/api/v1/chat", json={"session_id": f"s{abs(hash(text))}", "text": text}, timeout=60
    )
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def caught_up(worker: LiveServer, timeout_s: float = 60) -> None:
    """Wait until the worker's own index serves the knowledge base's current version (its
    refresher, not a restart, brings it there)."""
    deadline = time.monotonic() + timeout_s
    while True:
        ready = httpx.get(f"{worker.base_url}/readyz", timeout=30).json()
        if ready.get("index_current"):
            return
        assert time.monotonic() < deadline, ready
        time.sleep(0.2)


def test_a_supervisor_keeps_the_knowledge_current_from_the_browser(
    browser: Any,  # noqa: F811
    workers: tuple[LiveServer, LiveServer],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    a, b = workers
    assert ask(b.base_url, CAT_QUESTION)["action"] == "fallback"  # logged as unanswered, on worker B
    page = open_console(browser, a, "sup1")
    expect(page.locator("#user-role")).to_have_text("值班长")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#nav-admin")
    expect(page.locator("#admin-view")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()

    # 1. a user, who can log in at once (on the other worker too)
    page.fill("#u-name", "nightagent")
    page.fill("#u-password", "night-shift-7")
    page.select_option("#u-role", "agent")
    page.click("#u-create-btn")
    user_row = page.locator('#users-body tr[data-username="nightagent"]')
    expect(user_row).to_be_visible()
    expect(user_row.locator("select").first).to_have_value("agent")
    login = httpx.post(
        f"{b.base_url}/api/v1/auth/login", json={"username": "nightagent", "password": "night-shift-7"}
    )
    assert login.status_code == 200 and login.json()["role"] == "agent"

    # 2. a file imported, with the importer's report
    upload = tmp_path / "夜班知识.jsonl"
    lines = [*RECORDS, {"kind": "faq", "id": "faq-night-bad", "question": "没有答复"}]
    upload.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines), encoding="utf-8")
    page.set_input_files("#kb-file", str(upload))
    page.click("#kb-import-btn")
    report = page.locator("#kb-import-report")
    expect(report.locator(".report-summary")).to_contain_text("读取 2 条")
    expect(report.locator(".report-summary")).to_contain_text("拒绝 1 条")
    expect(report.locator(".report-errors li")).to_contain_text("夜班知识.jsonl:3")

    # 3. an item unpublished
    page.fill("#kb-q", "遛狗")
    page.click("#kb-search-btn")
    dog = page.locator('#kb-body tr[data-item-id="faq-night-dog"]')
    expect(dog).to_be_visible()
    dog.locator(".unpublish-btn").click()
    expect(dog).to_have_count(0)

    # 4. the unanswered question turned into an FAQ
    page.click("#nav-desk")
    page.click("#nav-admin")  # the pages reload their lists
    question = page.locator("#unanswered-body tr", has_text="猫咪")
    expect(question).to_be_visible()
    question.locator(".faq-btn").click()
    expect(page.locator("#faq-answer")).to_be_focused()
    page.fill("#faq-question", CAT_QUESTION)
    page.fill("#faq-answer", CAT_ANSWER)
    page.click("#faq-save-btn")
    expect(page.locator("#flash")).to_contain_text("已发布常见问题")
    expect(page.locator("#unanswered-body tr", has_text="猫咪")).to_have_count(0)
    # and a closed ticket's official reply promoted from the list
    sup = {"Authorization": f"Bearer {login_token(a, 'sup1', PASSWORD)}"}
    number = httpx.post(
        f"{a.base_url}/api/v1/tickets",
        json={
            "title": "公园东门路灯不亮",
            "content": "公园东门的路灯不亮。",
            "phone": "13922226666",
            "category": "城乡建设",
        },
        headers=sup,
        timeout=60,
    ).json()["ticket_no"]
    for step in (
        {"to": "已受理"},
        {"to": "已交办"},
        {"to": "处理中"},
        {"to": "已反馈", "note": "路灯已修复。"},
        {"to": "已办结"},
    ):
        assert (
            httpx.post(
                f"{a.base_url}/api/v1/tickets/{number}/transitions", json=step, headers=sup
            ).status_code
            == 200
        )
    page.click("#nav-desk")
    page.click("#nav-admin")
    page.locator(f'#promotion-body tr[data-ticket-no="{number}"] .promote-btn').click()
    expect(page.locator("#flash")).to_contain_text(f"faq-12345-{number}")

    log = page.locator("#actions-list li")
    for label in ("创建账号", "导入知识文件", "下架知识条目", "未答问题转常见问题"):
        expect(log.filter(has_text=label)).to_have_count(1)
    expect(log.first).to_contain_text("sup1")
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.locator("#kb-panel").screenshot(path=str(SCREENS / "desk_admin_kb.png"))

    # the citizen on worker B: the new FAQ answers, the unpublished one does not
    caught_up(b)
    citizen = browser.new_context(locale="zh-CN").new_page()
    citizen.set_default_timeout(60_000)
    citizen.goto(b.base_url + "/")
    citizen.locator(".govbot-w-launcher").click()
    citizen.locator(".govbot-w-input").fill(CAT_QUESTION)
    citizen.locator(".govbot-w-send").click()
    answer = citizen.locator(".govbot-w-msg-bot[data-action='answer']").last
    expect(answer).to_contain_text("猫三联", timeout=60_000)
    assert ask(b.base_url, "共享单车乱停放向谁反映")["item_id"] == "faq-night-bike"
    assert ask(b.base_url, "小区里遛狗必须拴绳吗")["item_id"] != "faq-night-dog"
    citizen.context.close()
    page.context.close()
