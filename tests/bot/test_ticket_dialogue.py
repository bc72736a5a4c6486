"""From chat to ticket: the form turn by turn, status by number + last 4, rating, desk outages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.messages import BotReply, UserMessage
from core.settings import load_settings
from tickets.chat_gateway import ticket_fields
from tickets.intake import DeskUnavailableError, TicketReceipt, TicketRequest, TicketStatusView, validate


class MemoryDesk:
    """A desk kept in a dict: the dialogue's side of the contract, without a database (it
    validates each request with the real intake contract, so it refuses what the desk refuses)."""

    def __init__(self) -> None:
        self.created: list[TicketRequest] = []
        self.down = False
        self.closed: set[str] = set()
        self.ratings: dict[str, int] = {}

    def create(self, request: TicketRequest) -> TicketReceipt:
        if self.down:
            raise DeskUnavailableError("database unreachable")
        validate(ticket_fields(request))  # refuses what the real desk's intake refuses
        self.created.append(request)
        number = f"20261123{len(self.created):06d}"
        received = datetime(2026, 11, 23, 10, 0)
        return TicketReceipt(
            ticket_no=number,
            status="待受理",
            urgency="normal",
            category=request.category,
            department=None,
            received_at=received,
            feedback_deadline=datetime(2026, 11, 24, 18, 0),
            completion_deadline=received + timedelta(days=15),
        )

    def status(self, ticket_no: str, phone_last4: str) -> TicketStatusView | None:
        for n, request in enumerate(self.created, start=1):
            if f"20261123{n:06d}" == ticket_no and request.phone.endswith(phone_last4):
                closed = ticket_no in self.closed
                return TicketStatusView(
                    ticket_no=ticket_no,
                    status="已办结" if closed else "已交办",
                    department="市城市管理局",
                    feedback_deadline=datetime(2026, 11, 24, 18, 0) + timedelta(hours=0),
                    reply="已安排维修" if closed else None,
                    closed=closed,
                    rated=ticket_no in self.ratings,
                )
        return None

    def rate(self, ticket_no: str, phone_last4: str, score: int) -> bool:
        self.ratings[ticket_no] = score
        return True


@pytest.fixture
def desk() -> MemoryDesk:
    return MemoryDesk()


@pytest.fixture
def bot(prepared_dir: Path, desk: MemoryDesk) -> Iterator[Assistant]:
    assistant = Assistant(load_settings(data_dir=prepared_dir), desk=desk)
    yield assistant
    assistant.close()


def _talk(bot: Assistant, session: str, *texts: str) -> list[BotReply]:
    return [bot.handle(UserMessage(text=t, session_id=session, channel="web")) for t in texts]


COMPLAINT = "我家楼下的烧烤店每天营业到凌晨两点，油烟和噪音太大了，已经一个多月了"


def test_complaint_runs_the_form_and_creates_one_ticket(bot: Assistant, desk: MemoryDesk) -> None:
    session = uuid.uuid4().hex
    first = _talk(bot, session, COMPLAINT)[0]
    assert first.action == "ticket"
    assert first.form is not None and first.form["step"] == "location"
    assert first.category
    replies = _talk(bot, session, "天河区体育西路100号", "123", "13812345678", "跳过", "同意")
    assert [r.form["step"] if r.form else None for r in replies] == [
        "phone",
        "phone",  # 123 is not a phone number: asked again
        "name",
        "consent",
        "confirm",
    ]
    confirm = replies[-1]
    assert "138****5678" in confirm.reply and "13812345678" not in confirm.reply
    assert confirm.form is not None and "确认提交" in confirm.form["choices"]
    done = _talk(bot, session, "确认提交")[0]
    assert done.ticket is not None and done.ticket["ticket_no"] == "20261123000001"
    assert "20261123000001" in done.reply
    assert len(desk.created) == 1
    created = desk.created[0]
    assert created.content == COMPLAINT
    assert created.location == "天河区体育西路100号" and created.phone == "13812345678"
    assert created.contact_consent is True and created.channel == "web"
    after = _talk(bot, session, "确认提交")[0]  # a repeated confirmation is not a second ticket
    assert len(desk.created) == 1
    assert after.ticket is None


def test_numbers_typed_into_the_description_are_masked_in_the_confirmation(
    bot: Assistant, desk: MemoryDesk
) -> None:
    session = uuid.uuid4().hex
    said = COMPLAINT + "，有事打我电话13912345678，身份证号440106199001011234"
    replies = _talk(bot, session, said, "天河区体育西路100号", "13812345678", "跳过", "同意")
    confirm = replies[-1]
    assert confirm.form is not None and confirm.form["step"] == "confirm"
    assert "13912345678" not in confirm.reply and "440106199001011234" not in confirm.reply
    assert "139****5678" in confirm.reply  # still recognisable to the citizen who typed it
    _talk(bot, session, "确认提交")
    assert desk.created[-1].content == said  # the ticket keeps what was said, for the department


def test_cancel_leaves_nothing(bot: Assistant, desk: MemoryDesk) -> None:
    session = uuid.uuid4().hex
    replies = _talk(bot, session, COMPLAINT, "取消")
    assert replies[-1].form is None and "取消" in replies[-1].reply
    assert desk.created == []


def test_asking_for_the_form_starts_with_the_description(bot: Assistant, desk: MemoryDesk) -> None:
    session = uuid.uuid4().hex
    first, short, described = _talk(
        bot, session, "我要提交诉求", "噪音", "隔壁工地晚上十一点以后还在打桩施工"
    )
    assert first.form is not None and first.form["step"] == "description"
    assert short.form is not None and short.form["step"] == "description"
    assert described.form is not None and described.form["step"] == "location"


def test_desk_outage_keeps_the_form_and_retry_succeeds(bot: Assistant, desk: MemoryDesk) -> None:
    session = uuid.uuid4().hex
    _talk(bot, session, COMPLAINT, "越秀区北京路1号", "13812345678", "张先生", "不同意")
    desk.down = True
    failed = _talk(bot, session, "确认提交")[0]
    assert failed.ticket is None and failed.form is not None and failed.form["step"] == "confirm"
    assert desk.created == []
    desk.down = False
    ok = _talk(bot, session, "确认提交")[0]
    assert ok.ticket is not None
    assert desk.created[0].contact_consent is False and desk.created[0].name == "张先生"


def test_status_needs_number_and_last4_then_rating_after_closure(bot: Assistant, desk: MemoryDesk) -> None:
    session = uuid.uuid4().hex
    _talk(bot, session, COMPLAINT, "越秀区北京路1号", "13812345678", "跳过", "同意", "确认提交")
    other = uuid.uuid4().hex
    ask_last4 = _talk(bot, other, "帮我查一下工单 20261123000001 的进度")[0]
    assert ask_last4.action == "ticket_status" and "后4位" in ask_last4.reply
    wrong = _talk(bot, other, "1234")[0]
    assert wrong.ticket is None and wrong.action == "ticket_status" and "20261123000001" in wrong.reply
    right = _talk(bot, other, "查询工单20261123000001 手机尾号5678")[0]
    assert right.ticket is not None and right.ticket["status"] == "已交办"
    assert "13812345678" not in right.model_dump_json()
    desk.closed.add("20261123000001")
    closed = _talk(bot, other, "工单20261123000001进度 尾号5678")[0]
    assert "打分" in closed.reply
    thanks = _talk(bot, other, "5")[0]
    assert desk.ratings == {"20261123000001": 5} and "5" in thanks.reply


def test_fallback_offer_accepted_starts_the_form(bot: Assistant) -> None:
    session = uuid.uuid4().hex
    first = _talk(bot, session, "推荐一部好看的电影吧")[0]
    if first.action != "fallback":
        pytest.skip(f"this question was not a fallback on the sample KB: {first.action}")
    accepted = _talk(bot, session, "好的")[0]
    assert accepted.form is not None and accepted.form["step"] == "description"
