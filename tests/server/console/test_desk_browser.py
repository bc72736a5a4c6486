"""The desk in headless Chromium: search by phone suffix, number and words from the keyboard,
回访 straight from the 待回访 list with a canned reply inserted, internal notes, taking a ticket
(我的工单), a flagged duplicate merged from the list, and the SLA alert from the live list.

Two small screenshots go to docs/screens/ for the closing note."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import update

from tests.server.console.conftest import DEPT, LiveServer
from tests.server.console.test_console_browser import browser, open_console  # noqa: F401 - the fixture
from tests.utils.screens import SCREENS
from tickets.models import Ticket
from tickets.service import TicketDesk


def _create(live: LiveServer, headers: dict[str, str], **fields: str) -> str:
    body = {
        "content": fields["title"] + "，请尽快处理。",
        "category": "城乡建设",
        "channel": "hotline",
    } | fields
    created = httpx.post(f"{live.base_url}/api/v1/tickets", json=body, headers=headers, timeout=60)
    assert created.status_code == 201, created.text
    number: str = created.json()["ticket_no"]
    return number


def _move(live: LiveServer, headers: dict[str, str], number: str, **step: str) -> None:
    moved = httpx.post(
        f"{live.base_url}/api/v1/tickets/{number}/transitions", json=step, headers=headers, timeout=60
    )
    assert moved.status_code == 200, moved.text


def test_an_agent_works_a_shift_from_the_keyboard(browser: Any, live_server: LiveServer) -> None:  # noqa: F811
    from playwright.sync_api import expect

    agent, handler = live_server.login("agent1"), live_server.login("handler1")
    closed = _create(live_server, agent, title="文明路12号夜间施工噪音扰民", phone="13922228888")
    for step, who in (
        ({"to": "已受理"}, agent),
        ({"to": "已交办", "department": DEPT}, agent),
        ({"to": "处理中"}, handler),
        ({"to": "已反馈", "note": "已责令施工单位夜间停工"}, handler),
        ({"to": "已办结"}, agent),
    ):
        _move(live_server, who, closed, **step)
    original = _create(
        live_server, agent, title="建设路7号下水道堵塞", phone="13922229999", location="建设路7号"
    )
    duplicate = _create(
        live_server, agent, title="建设路7号下水道堵塞", phone="13922227777", location="建设路7号"
    )

    page = open_console(browser, live_server, "agent1")
    expect(page.locator("#user-role")).to_have_text("话务员")
    expect(page.locator("#shortcuts")).to_contain_text("聚焦查找框")

    # --- search from the keyboard: "/" focuses the box, Enter searches ----------------------------------
    page.locator("body").press("/")
    expect(page.locator("#search-q")).to_be_focused()
    page.keyboard.type("8888")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-title")).to_have_text("查找结果")
    expect(page.locator("#queue-body tr")).to_have_count(1)
    expect(page.locator(f'#queue-body tr[data-ticket-no="{closed}"]')).to_be_visible()
    expect(page.locator("#queue-body button.link").first).to_be_focused()  # one hit: Enter opens it
    page.fill("#search-q", closed)
    page.press("#search-q", "Enter")
    expect(page.locator("#queue-body tr")).to_have_count(1)
    page.fill("#search-q", "噪音扰民")
    page.select_option("#search-status", "已办结")
    page.press("#search-q", "Enter")
    expect(page.locator("#queue-body tr")).to_have_count(1)
    page.select_option("#search-status", "待受理")
    page.press("#search-q", "Enter")
    expect(page.locator("#queue-empty")).to_be_visible()
    page.click("#search-clear")
    expect(page.locator("#queue-title")).to_have_text("我的工单")

    # --- 回访 straight from the 待回访 list, with a canned reply ------------------------------------------
    page.click('#queue-tabs button[data-queue="awaiting_callback"]')
    row = page.locator(f'#queue-body tr[data-ticket-no="{closed}"]')
    expect(row.locator("td").nth(5)).to_have_text("已办结")
    row.locator('button[data-row-action="callback"]').click()
    expect(page.locator("#d-step-form")).to_be_visible()
    expect(page.locator('#d-step-form select[name="satisfaction"]')).to_be_focused()
    page.click("#d-step-form .canned-btn")
    inserted = page.locator("#d-step-form .canned-item .insert-btn").first
    expect(inserted).to_be_visible()
    inserted.click()
    result = page.locator('#d-step-form textarea[name="callback_result"]')
    expect(result).to_be_focused()
    assert result.input_value().strip(), "nothing was inserted"
    page.select_option('#d-step-form select[name="satisfaction"]', "满意")
    page.click("#d-step-submit")
    expect(page.locator('#d-fields dd[data-field="status"]')).to_have_text("已回访")
    expect(page.locator(f'#queue-body tr[data-ticket-no="{closed}"]')).to_have_count(0)

    # --- notes and taking a ticket -------------------------------------------------------------------------
    page.fill("#search-q", original)
    page.press("#search-q", "Enter")
    expect(page.locator(f'#queue-body tr[data-ticket-no="{original}"] button.link')).to_be_focused()
    page.keyboard.press("Enter")  # the one hit has the focus
    expect(page.locator("#d-ticket-no")).to_have_text(original)
    page.keyboard.press("Alt+N")
    expect(page.locator("#d-note-text")).to_be_focused()
    page.keyboard.type("市民下午三点后方便接听回访电话")
    page.click("#d-note-btn")
    expect(page.locator("#d-notes li")).to_have_count(1)
    expect(page.locator("#d-notes li")).to_contain_text("agent1")
    expect(page.locator("#d-audit li").last).to_contain_text("内部备注")
    page.click("#d-take-btn")
    expect(page.locator('#d-fields dd[data-field="assignee"]')).to_have_text("agent1")
    expect(page.locator("#d-audit li").last).to_contain_text("指派")
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#detail-panel").screenshot(path=str(SCREENS / "desk_notes.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#detail-panel")).to_be_hidden()
    page.keyboard.press("Alt+1")
    expect(page.locator('#queue-tabs button[data-queue="mine"]')).to_have_class(re.compile("active"))
    expect(page.locator(f'#queue-body tr[data-ticket-no="{original}"] td').nth(4)).to_have_text("agent1")

    # --- the duplicate is flagged in the list and merged with one click ---------------------------------
    page.click('#queue-tabs button[data-queue="open"]')
    flagged = page.locator(f'#queue-body tr[data-ticket-no="{duplicate}"]')
    expect(flagged.locator(".badge.amber")).to_have_text("疑似重复")
    page.screenshot(path=str(SCREENS / "desk_queue.png"))
    flagged.locator('button[data-row-action="merge"]').click()
    expect(page.locator('#d-step-form input[name="merged_into"]')).to_have_value(original)
    page.click("#d-step-submit")
    expect(page.locator('#d-fields dd[data-field="status"]')).to_have_text("已合并")

    # --- the live list: a ticket flagged at risk raises the alert without a reload -------------------------
    desk = TicketDesk(live_server.settings)
    try:
        desk.db.run(
            lambda s: s.execute(update(Ticket).where(Ticket.ticket_no == original).values(at_risk=True))
        )
    finally:
        desk.close()
    alert = page.locator("#sla-alert")
    expect(alert).to_be_visible(timeout=15_000)
    expect(alert).to_contain_text("件工单即将超时")
    expect(alert.locator(f'button:text("{original}")')).to_be_visible()
    page.click("#sla-alert-open")
    expect(page.locator('#queue-tabs button[data-queue="at_risk"]')).to_have_class(re.compile("active"))
    expect(page.locator(f'#queue-body tr[data-ticket-no="{original}"]')).to_be_visible()
    page.context.close()
