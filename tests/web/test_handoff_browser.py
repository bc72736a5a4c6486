"""转人工 end to end in headless Chromium, two browser contexts on one live server: a citizen in the
widget and an agent in the console. The server's clock is a ManualClock the test moves (working
hours are judged by it); the server runs in this process, so the test and the app share it.

Screenshots of both sides go to docs/screens/handoff_*.png (the closing note shows them).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from core.clock import ManualClock
from server.app import create_app
from tests.server.conftest import server_settings
from tests.utils.screens import SCREENS
from tests.utils.ticketdb import copy_data_dir
from tickets.service import TicketDesk

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 90_000  # a bot reply on a busy 2-core machine
LIVE_MS = 10_000  # a live event (measured and printed; normally well under a second)
PASSWORD = "handoff-pass-9"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make install)")
expect = sync_api.expect


@dataclass
class Live:
    url: str
    clock: ManualClock


@pytest.fixture(scope="module")
def live(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("handoff-live") / "data"
    copy_data_dir(prepared_dir, data_dir)  # on PostgreSQL: its own schema too
    settings = server_settings(data_dir)
    desk = TicketDesk(settings)
    try:
        desk.migrate()
        desk.add_user("agent1", PASSWORD, role="agent", department=None)
    finally:
        desk.close()
    clock = ManualClock()
    clock.set_local("2026-11-23 10:00")  # a Monday morning: live-chat hours
    app = create_app(settings)
    app.state.desk.clock = clock
    for engine in app.state.service.engines:  # whichever engine answers keeps the test's time
        engine.clock = clock
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not server.started:
        assert thread.is_alive(), "the live server stopped while starting"
        assert time.monotonic() < deadline, "the live server did not start within 300 s"
        time.sleep(0.1)
    try:
        yield Live(f"http://127.0.0.1:{sock.getsockname()[1]}", clock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


def shot(page: sync_api.Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"handoff_{name}.png"))


def citizen_page(browser: sync_api.Browser, live: Live) -> sync_api.Page:
    page = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 480, "height": 720}
    ).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(live.url + "/")
    page.locator(".govbot-w-launcher").click()
    return page


def say(page: sync_api.Page, text: str) -> None:
    page.locator(".govbot-w-input").fill(text)
    page.locator(".govbot-w-send").click()


def agent_page(browser: sync_api.Browser, live: Live) -> sync_api.Page:
    page = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1100, "height": 760}
    ).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live.url}/console/")
    page.fill("#login-username", "agent1")
    page.fill("#login-password", PASSWORD)
    page.click("#login-btn")
    expect(page.locator("#inbox-panel")).to_be_visible()  # the inbox is open: the agent is present
    return page


def test_citizen_asks_for_a_person_and_an_agent_answers_live(browser: sync_api.Browser, live: Live) -> None:
    live.clock.set_local("2026-11-23 10:00")
    agent = agent_page(browser, live)
    citizen = citizen_page(browser, live)

    say(citizen, "居住证申领怎么办理")
    expect(citizen.locator(".govbot-w-msg-bot")).to_have_count(2)  # the greeting and the bot's answer
    say(citizen, "转人工")
    queued = citizen.locator(".govbot-w-msg-bot[data-action='handoff']").last
    expect(queued).to_contain_text("已为您转接人工客服")
    expect(citizen.locator(".govbot-w-live-badge")).to_have_text("正在等待人工客服")

    # The agent's inbox shows it without a reload.
    started = time.monotonic()
    waiting = agent.locator(".inbox-item[data-status='waiting']")
    expect(waiting).to_have_count(1, timeout=LIVE_MS)
    print(f"agent saw the waiting chat after {time.monotonic() - started:.2f} s")
    expect(agent.locator("#inbox-count")).to_have_text("1")
    say(citizen, "我的电话是13812345678，想问下居住证续签")
    expect(waiting.locator(".inbox-last")).to_contain_text("138****5678", timeout=LIVE_MS)

    waiting.locator(".inbox-take").click()
    chat = agent.locator("#inbox-chat")
    expect(chat).to_be_visible()
    expect(chat.locator(".inbox-line-bot").first).to_be_visible()  # the bot's transcript came along
    expect(chat.locator(".inbox-line-citizen").last).to_contain_text("138****5678")
    assert "13812345678" not in chat.inner_text()
    expect(citizen.locator(".govbot-w-msg-live-notice[data-kind='joined']")).to_be_visible(timeout=LIVE_MS)
    expect(citizen.locator(".govbot-w-live-badge")).to_have_text("人工客服服务中")

    agent.fill("#inbox-reply-text", "您好，我是12345客服小王，居住证续签可以在网上办理。")
    started = time.monotonic()
    agent.click("#inbox-reply-btn")
    from_agent = citizen.locator(".govbot-w-msg-agent")
    expect(from_agent).to_have_text(
        "人工客服：您好，我是12345客服小王，居住证续签可以在网上办理。", timeout=LIVE_MS
    )
    print(f"citizen saw the agent's reply after {time.monotonic() - started:.2f} s")
    expect(chat.locator(".inbox-line-agent")).to_have_count(1)  # shown once, however many refreshes
    shot(citizen, "citizen")
    shot(agent, "agent")

    # A reload keeps the conversation: the widget follows it again and the next reply arrives.
    citizen.reload()
    citizen.locator(".govbot-w-launcher").click()
    expect(citizen.locator(".govbot-w-live-badge")).to_have_text("人工客服服务中", timeout=LIVE_MS)
    agent.fill("#inbox-reply-text", "请问还有其他问题吗？")
    agent.click("#inbox-reply-btn")
    expect(citizen.locator(".govbot-w-msg-agent").last).to_contain_text(
        "请问还有其他问题吗？", timeout=LIVE_MS
    )

    say(citizen, "好的谢谢")
    expect(chat.locator(".inbox-line-citizen").last).to_have_text(re.compile("好的谢谢"), timeout=LIVE_MS)
    agent.click("#inbox-close-resolved")
    expect(agent.locator("#inbox-result")).to_have_text("会话已结束。")
    expect(citizen.locator(".govbot-w-msg-live-notice[data-kind='closed']")).to_be_visible(timeout=LIVE_MS)
    expect(citizen.locator(".govbot-w-live-badge")).to_be_hidden()
    expect(agent.locator(".inbox-item")).to_have_count(0, timeout=LIVE_MS)
    citizen.context.close()
    agent.context.close()


def test_outside_working_hours_the_citizen_is_told_the_truth(browser: sync_api.Browser, live: Live) -> None:
    live.clock.set_local("2026-11-28 20:00")  # Saturday evening
    agent = agent_page(browser, live)  # even with an inbox open, nobody takes chats now
    expect(agent.locator(".inbox-presence")).to_have_text("当前不在人工服务时间", timeout=LIVE_MS)
    citizen = citizen_page(browser, live)
    say(citizen, "转人工")
    reply = citizen.locator(".govbot-w-msg-bot[data-action='handoff']").last
    expect(reply).to_contain_text("现在不是人工客服的在线时间")
    expect(reply).to_contain_text("11月30日09:00")
    expect(reply.locator("button.govbot-w-reply-ticket")).to_be_visible()  # a ticket instead
    assert "请稍候" not in reply.inner_text()
    expect(citizen.locator(".govbot-w-live-badge")).to_be_hidden()
    shot(citizen, "closed")
    reply.locator("button.govbot-w-reply-ticket").click()
    expect(citizen.locator(".govbot-w-msg-bot[data-action='ticket']").last).to_be_visible()
    citizen.context.close()
    agent.context.close()
