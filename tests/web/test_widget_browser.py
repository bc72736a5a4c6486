"""The widget in a real browser: Debian's headless Chromium driven by Playwright, against a live server.

Never downloads a browser: it launches /usr/bin/chromium (`make test` installs it with apt-get).
Screenshots of each step land in tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
REPLY_TIMEOUT_MS = 90_000  # a reply on a busy 2-core machine; normally well under a second

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} missing: install Debian's chromium (`make test` does: apt-get install chromium)",
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (make install)")
expect = sync_api.expect

ANSWER = ".govbot-w-msg-bot[data-action='answer']"
CLARIFY = ".govbot-w-msg-bot[data-action='clarify']"


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def open_page(browser: sync_api.Browser, url: str, **context: object) -> sync_api.Page:
    page = browser.new_context(locale="zh-CN", **context).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(REPLY_TIMEOUT_MS)
    page.goto(url + "/")
    return page


def shot(page: sync_api.Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"widget-{name}.png"))


def ask(page: sync_api.Page, text: str) -> None:
    page.locator(".govbot-w-input").fill(text)
    page.locator(".govbot-w-send").click()


def test_answer_card_then_clarify_choice(browser: sync_api.Browser, live_server: str) -> None:
    page = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    panel = page.locator(".govbot-w-panel")
    expect(panel).to_be_hidden()
    page.locator(".govbot-w-launcher").click()
    expect(panel).to_be_visible()
    expect(page.locator(".govbot-w-input")).to_be_focused()
    shot(page, "desktop-open")

    ask(page, "居住证申领怎么办理")
    expect(page.locator(".govbot-w-input")).to_be_focused()  # clicking 发送 leaves focus in the input
    card = page.locator(f"{ANSWER} .govbot-w-card").last
    expect(card).to_be_visible()
    expect(card.locator(".govbot-w-card-title")).to_contain_text("居住证")
    materials = card.locator("ol.govbot-w-materials li")
    assert materials.count() >= 2
    expect(card.locator(".govbot-w-citation")).to_contain_text("来源：")
    sources = page.locator(f"{ANSWER} details.govbot-w-sources").last
    expect(sources.locator("summary")).to_have_text("来源（1）")  # only the item behind the answer
    assert sources.get_attribute("open") is None  # collapsed until asked
    expect(sources.locator("li")).to_have_count(1)
    assert (card.get_attribute("data-item-id") or "-") not in sources.inner_text()  # no internal id
    link = card.locator("a.govbot-w-online")
    expect(link).to_have_attribute("target", "_blank")
    assert "noopener" in (link.get_attribute("rel") or "")
    assert (link.get_attribute("href") or "").startswith("http")
    shot(page, "desktop-answer")

    ask(page, "护照怎么办")
    options = page.locator(f"{CLARIFY} button.govbot-w-option")
    expect(options.first).to_be_visible()
    assert options.count() >= 2
    second = options.nth(1)
    chosen_id = second.get_attribute("data-option-id")
    chosen_title = re.sub(r"^\d+\.\s*", "", second.inner_text())
    shot(page, "desktop-clarify")
    second.click()

    # The choice is shown as the citizen's message, and the answer is about that option.
    expect(page.locator(".govbot-w-msg-user").last).to_have_text(re.compile(re.escape(chosen_title)))
    follow = page.locator(f"{ANSWER} .govbot-w-card").nth(1)
    expect(follow).to_be_visible()
    assert follow.get_attribute("data-item-id") == chosen_id
    expect(follow.locator(".govbot-w-card-title")).to_have_text(chosen_title)
    expect(second).to_be_disabled()
    shot(page, "desktop-clarify-answer")
    page.context.close()


def test_phone_sized_screen_gets_a_full_screen_panel(browser: sync_api.Browser, live_server: str) -> None:
    page = open_page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True)
    launcher = page.locator(".govbot-w-launcher")
    expect(launcher).to_be_visible()
    launcher.click()
    box = page.locator(".govbot-w-panel").bounding_box()
    assert box is not None
    assert box["x"] == 0 and box["width"] == 390
    assert box["y"] == 0 and box["height"] == 844
    ask(page, "居住证申领怎么办理")
    card = page.locator(f"{ANSWER} .govbot-w-card")
    expect(card).to_be_visible()
    expect(card.locator(".govbot-w-card-title")).to_be_in_viewport()  # a long card is read from its top
    shot(page, "phone-answer")
    page.locator(".govbot-w-close").click()
    expect(page.locator(".govbot-w-panel")).to_be_hidden()
    expect(launcher).to_be_visible()
    page.context.close()


def test_keyboard_only(browser: sync_api.Browser, live_server: str) -> None:
    page = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    launcher = page.locator(".govbot-w-launcher")
    for _ in range(30):  # Tab through the demo page until the bubble has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("node => node === document.activeElement"):
            break
    expect(launcher).to_be_focused()
    assert launcher.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    expect(page.locator(".govbot-w-panel")).to_be_visible()
    assert launcher.get_attribute("aria-expanded") == "true"
    field = page.locator(".govbot-w-input")
    expect(field).to_be_focused()
    assert page.get_by_label("输入您的问题").count() == 1

    # From the header's close button, Tab reaches the input (through the scrollable log).
    page.locator(".govbot-w-close").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
        if field.evaluate("node => node === document.activeElement"):
            break
    expect(field).to_be_focused()
    page.keyboard.type("居住证申领怎么办理")
    page.keyboard.press("Enter")
    expect(page.locator(".govbot-w-msg-user").last).to_have_text(re.compile("居住证申领怎么办理"))
    expect(page.locator(f"{ANSWER} .govbot-w-card")).to_be_visible()
    expect(field).to_have_value("")
    assert page.locator(".govbot-w-log").get_attribute("aria-live") == "polite"
    shot(page, "keyboard-answer")

    page.keyboard.press("Escape")
    expect(page.locator(".govbot-w-panel")).to_be_hidden()
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")  # reopen from the bubble, then Esc there closes it too
    expect(page.locator(".govbot-w-panel")).to_be_visible()
    launcher.focus()
    page.keyboard.press("Escape")
    expect(page.locator(".govbot-w-panel")).to_be_hidden()
    page.context.close()


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (503, {}, "服务暂时出现问题"),
        (429, {"Retry-After": "7"}, "7 秒后再试"),
        (0, {}, "无法连接"),  # 0: the connection fails
    ],
)
def test_server_errors_are_shown_with_a_retry(
    browser: sync_api.Browser, live_server: str, status: int, headers: dict[str, str], message: str
) -> None:
    page = open_page(browser, live_server, viewport={"width": 1280, "height": 800})

    def refuse(route: sync_api.Route) -> None:
        if status:
            route.fulfill(status=status, headers=headers, json={"detail": "refused by the test"})
        else:
            route.abort("connectionrefused")

    page.route("**/api/v1/chat", refuse)
    page.locator(".govbot-w-launcher").click()
    ask(page, "居住证申领怎么办理")
    error = page.locator(".govbot-w-msg-error")
    expect(error).to_contain_text(message)
    expect(page.locator(".govbot-w-typing")).to_be_hidden()
    shot(page, f"error-{status or 'unreachable'}")

    page.unroute("**/api/v1/chat")
    error.locator("button.govbot-w-retry").click()
    expect(error).to_have_count(0)
    expect(page.locator(f"{ANSWER} .govbot-w-card")).to_be_visible()
    assert page.locator(".govbot-w-msg-user").count() == 1  # the retry did not repeat the question
    expect(page.locator(".govbot-w-input")).to_be_focused()
    page.context.close()


def test_ticket_form_in_the_chat_creates_a_ticket(browser: sync_api.Browser, live_server: str) -> None:
    """提交诉求 → the form, turn by turn, with its fixed answers as buttons → a ticket number."""
    page = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    page.locator(".govbot-w-launcher").click()
    page.locator(".govbot-w-header-ticket").click()
    expect(page.locator(".govbot-w-msg-user").last).to_have_text(re.compile("我要提交诉求"))
    bot = page.locator(".govbot-w-msg-bot")
    expect(bot.last).to_have_attribute("data-action", "ticket")
    for text in ("楼下工地半夜十二点还在施工，电钻声吵得人睡不着", "天河区天河路385号", "13812345678"):
        count = bot.count()
        ask(page, text)
        expect(bot).to_have_count(count + 1)
    skip = bot.last.locator("button.govbot-w-option", has_text="跳过")
    skip.click()
    bot.last.locator("button.govbot-w-option", has_text="同意").first.click()
    expect(bot.last).to_contain_text("138****5678")  # the summary masks the phone
    shot(page, "ticket-confirm")
    bot.last.locator("button.govbot-w-option", has_text="确认提交").click()
    number = page.locator(".govbot-w-ticket-no")
    expect(number).to_have_text(re.compile(r"工单编号：\d{8}-\d{4}"))
    shot(page, "ticket-created")
    page.context.close()


def test_ticket_hook_can_be_replaced(browser: sync_api.Browser, live_server: str) -> None:
    page = open_page(browser, live_server, viewport={"width": 1280, "height": 800})
    page.locator(".govbot-w-launcher").click()
    page.evaluate(
        """() => { window.GovbotWidget.onTicket = (ctx) => {
             const form = document.createElement('form');
             form.className = 'test-ticket-form';
             form.dataset.session = ctx.sessionId;
             ctx.mount(form);
           }; }"""
    )
    users_before = page.locator(".govbot-w-msg-user").count()
    page.locator(".govbot-w-header-ticket").click()
    form = page.locator(".govbot-w-log form.test-ticket-form")
    expect(form).to_have_count(1)
    stored = page.evaluate("() => localStorage.getItem('govbot-widget-session')")
    assert stored and form.get_attribute("data-session") == stored
    assert page.locator(".govbot-w-msg-user").count() == users_before
    page.context.close()
