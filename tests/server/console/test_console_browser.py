"""The console in headless Chromium against the live server: an agent turns a pasted call into
a ticket and moves it; a handler of another department cannot see it, the right one can.

Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.console.conftest import DEPT, PASSWORD, LiveServer
from tests.utils.wechat import wait_until

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
TRANSCRIPT = (
    "幸福小区东门口的路灯坏了一个星期，晚上很黑，老人出门不方便。我的电话是13812345678，麻烦尽快修一下。"
)
TITLE = "幸福小区东门口的路灯坏了一个星期，晚上很黑，老人出门不方便"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        reason = f"{CHROMIUM} is missing: the console's browser test needs Debian's chromium"
        print(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


def open_console(browser: Any, live_server: LiveServer, username: str) -> Any:
    """A fresh page (own sessionStorage), logged in as `username`."""
    from playwright.sync_api import expect

    page = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{live_server.base_url}/console/")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-btn")
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#user-name")).to_have_text(username)
    return page


def field(page: Any, name: str) -> Any:
    return page.locator(f'#d-fields dd[data-field="{name}"]')


def test_agent_creates_and_dispatches_a_ticket_only_its_department_sees(
    browser: Any, live_server: LiveServer
) -> None:
    from playwright.sync_api import expect

    # A wrong password is refused on the page.
    page = browser.new_context().new_page()
    page.goto(f"{live_server.base_url}/console/")
    page.fill("#login-username", "agent1")
    page.fill("#login-password", "not-the-password")
    page.click("#login-btn")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    expect(page.locator("#app-view")).to_be_hidden()
    page.context.close()

    # --- the agent: suggestions, a ticket from the pasted call ------------------------------------
    page = open_console(browser, live_server, "agent1")
    expect(page.locator("#user-role")).to_have_text("话务员")
    expect(page.locator("#suggest-panel")).to_be_visible()
    expect(page.locator("#queue-tabs button")).to_have_text(
        ["我的工单", "即将超时", "已超时", "全部在办", "待回访", "已办结", "全部"]
    )

    page.fill("#question", TRANSCRIPT)
    page.click("#suggest-btn")
    suggestions = page.locator("#suggestions li.suggestion")
    expect(suggestions.first).to_be_visible()
    assert suggestions.first.locator(".suggestion-title").inner_text().strip()
    expect(suggestions.first.locator(".source")).to_contain_text("来源：")
    page.screenshot(path=str(ARTIFACTS / "console-1-suggestions.png"), full_page=True)

    page.click("#draft-btn")
    expect(page.locator("#create-panel")).to_be_visible()
    expect(page.locator("#f-title")).to_have_value(TITLE)
    expect(page.locator("#f-content")).to_have_value(TRANSCRIPT)
    expect(page.locator("#f-phone")).to_have_value("13812345678")
    expect(page.locator("#f-category-hint")).to_contain_text("分类")
    page.fill("#f-category", "城乡建设")  # the agent confirms the category (the prediction may differ)
    page.fill("#f-location", "幸福小区东门")
    page.check("#f-urgent")
    page.fill("#f-urgent-reason", "老人夜间出行有摔伤风险")
    page.screenshot(path=str(ARTIFACTS / "console-2-create-form.png"), full_page=True)
    page.click("#create-btn")

    expect(page.locator("#flash")).to_contain_text("已创建工单")
    match = re.search(r"\d{8}-\d{4}", page.locator("#flash").inner_text())
    assert match, page.locator("#flash").inner_text()
    ticket_no = match.group(0)

    # --- the queue with its countdown -----------------------------------------------------------------
    expect(page.locator('#queue-tabs button[data-queue="mine"]')).to_have_class(re.compile("active"))
    row = page.locator(f'#queue-body tr[data-ticket-no="{ticket_no}"]')
    expect(row).to_be_visible()
    expect(row.locator("td").nth(1)).to_contain_text(TITLE)
    expect(row.locator("td").nth(2)).to_have_text("城乡建设")
    expect(row.locator("td").nth(3)).to_have_text(DEPT)
    expect(row.locator("td").nth(5)).to_have_text("待受理")
    countdown = row.locator(".sla")
    expect(countdown).to_have_text(re.compile(r"^距反馈期限 01:\d\d:\d\d$"))  # urgent: 2 hours
    expect(countdown).to_have_class(re.compile("sla-ok"))
    before = countdown.inner_text()
    page.wait_for_timeout(2100)
    assert countdown.inner_text() != before, "the countdown did not move"
    page.screenshot(path=str(ARTIFACTS / "console-3-queue.png"), full_page=True)

    # --- the detail: masked phone, 受理 then 交办 -------------------------------------------------------
    expect(page.locator("#detail-panel")).to_be_visible()
    expect(page.locator("#d-ticket-no")).to_have_text(ticket_no)
    expect(field(page, "phone")).to_have_text("138****5678")
    expect(field(page, "urgency")).to_have_text("紧急")
    expect(page.locator("#d-actions button")).to_have_text(["受理", "合并"])
    page.click('#d-actions button[data-action="accept"]')
    page.click("#d-step-submit")
    expect(field(page, "status")).to_have_text("已受理")
    expect(page.locator("#d-actions button")).to_have_text(["交办", "合并"])

    page.click('#d-actions button[data-action="dispatch"]')
    page.select_option('#d-step-form select[name="department"]', DEPT)
    page.fill('#d-step-form input[name="note"]', "请尽快维修路灯")
    page.click("#d-step-submit")
    expect(field(page, "status")).to_have_text("已交办")
    expect(page.locator("#d-audit li")).to_have_count(3)  # created, accepted, dispatched
    expect(page.locator("#d-audit li").last).to_contain_text("请尽快维修路灯")
    expect(page.locator("#d-actions button")).to_have_text(["重新交办", "合并"])
    expect(row.locator("td").nth(5)).to_have_text("已交办")

    # A step the server refuses is shown, with the reason: merging into itself.
    page.click('#d-actions button[data-action="merge"]')
    page.fill('#d-step-form input[name="merged_into"]', ticket_no)
    page.click("#d-step-submit")
    expect(page.locator("#d-error")).to_contain_text("409 不允许的流转")
    expect(page.locator("#d-error")).to_contain_text("cannot be merged into itself")
    page.screenshot(path=str(ARTIFACTS / "console-4-dispatched.png"), full_page=True)

    token = page.evaluate("sessionStorage.getItem('govbot.console.token')")
    me = f"{live_server.base_url}/api/v1/auth/me"
    assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
    page.click("#logout-btn")
    expect(page.locator("#login-view")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('govbot.console.token')") is None
    # the button revoked the token on the server too: a copy of it opens nothing any more
    assert wait_until(
        lambda: httpx.get(me, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 401,
        timeout=30,
    )
    page.context.close()

    # --- a handler of another department: not in any queue, and the API refuses -----------------------
    other = open_console(browser, live_server, "handler2")
    expect(other.locator("#suggest-panel")).to_be_hidden()
    expect(other.locator("#queue-tabs button")).to_have_text(
        ["我的工单", "本部门", "即将超时", "已超时", "待回访", "已办结", "全部"]
    )
    for queue in ("mine", "department", "at_risk", "overdue"):
        other.click(f'#queue-tabs button[data-queue="{queue}"]')
        expect(other.locator(f'#queue-tabs button[data-queue="{queue}"]')).to_have_class(re.compile("active"))
        expect(other.locator("#queue-empty")).to_be_visible()
        expect(other.locator(f'#queue-body tr[data-ticket-no="{ticket_no}"]')).to_have_count(0)
    other.screenshot(path=str(ARTIFACTS / "console-5-other-handler.png"), full_page=True)
    other.context.close()

    headers = live_server.login("handler2")
    base = f"{live_server.base_url}/api/v1/tickets/{ticket_no}"
    assert httpx.get(base, headers=headers).status_code == 404
    moved = httpx.post(f"{base}/transitions", json={"to": "处理中"}, headers=headers)
    assert moved.status_code in (403, 404), moved.text
    listed = httpx.get(f"{live_server.base_url}/api/v1/tickets", params={"queue": "all"}, headers=headers)
    assert listed.status_code == 200 and ticket_no not in {t["ticket_no"] for t in listed.json()}

    # --- the handler of the department it went to: sees it, with the full phone -----------------------
    handler = open_console(browser, live_server, "handler1")
    handler.click('#queue-tabs button[data-queue="department"]')
    handler.click(f'#queue-body tr[data-ticket-no="{ticket_no}"] button.link')
    expect(handler.locator("#d-ticket-no")).to_have_text(ticket_no)
    expect(field(handler, "phone")).to_have_text("13812345678")
    expect(handler.locator("#d-actions button")).to_have_text(["开始处理", "退回"])
    handler.screenshot(path=str(ARTIFACTS / "console-6-handler.png"), full_page=True)
    handler.context.close()
