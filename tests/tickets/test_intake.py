"""The one ticket intake, on SQLite and PostgreSQL: what it stores, audits and answers, what it
refuses (and that a refusal stores nothing), and the chat gateway as its chat door."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from sqlalchemy import func, select

from core import vocab as states
from core.vocab import COMPLETED, FEEDBACK, Channel
from tests.tickets.helpers import AGENT, SUPERVISOR, walk_to
from tests.utils.ticketdb import FakeClock
from tickets.chat_gateway import DOOR_CHANNELS, SqlTicketGateway, ticket_fields
from tickets.errors import InvalidTicketError
from tickets.intake import TicketRefusedError, TicketRequest, intake
from tickets.lifecycle import TransitionRequest
from tickets.models import Ticket
from tickets.service import TicketDesk

MATTER: dict[str, Any] = {
    "title": "小区路灯坏了",
    "content": "幸福小区东门口的路灯坏了一个星期，晚上很黑。",
    "phone": "138 1234 5678",
    "name": "张三",
    "location": "幸福小区东门",
    "channel": "rasa",
}


def _count(desk: TicketDesk) -> int:
    with desk.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


def _phone(desk: TicketDesk, ticket_no: str) -> str:
    with desk.db.session() as session:
        return str(session.scalar(select(Ticket.phone).where(Ticket.ticket_no == ticket_no)))


def test_the_channel_vocabulary_is_declared_once_for_the_schema_and_the_states() -> None:
    assert get_args(Channel) == states.CHANNELS
    assert "rasa" in states.CHANNELS
    assert set(DOOR_CHANNELS.values()) <= set(states.CHANNELS)
    assert not set(DOOR_CHANNELS) & set(states.CHANNELS)  # an alias never shadows a channel


def test_intake_stores_audits_and_answers_with_the_stored_values(desk: TicketDesk, clock: FakeClock) -> None:
    receipt = intake(desk, MATTER, actor="rasa-bot", predicted_category="城乡建设")
    view = desk.show(receipt.ticket_no, viewer=SUPERVISOR)
    stored = view.ticket
    assert stored.channel == "rasa" and stored.created_by == "rasa-bot"
    assert _phone(desk, receipt.ticket_no) == "13812345678"  # normalised by the contract
    assert receipt.status == stored.status == states.PENDING
    assert receipt.category == "城乡建设" == stored.category1
    assert receipt.department == stored.department and receipt.department
    assert receipt.urgency == stored.urgency == "normal"
    assert receipt.received_at == stored.received_at == clock.now
    assert receipt.feedback_deadline == stored.feedback_deadline
    assert receipt.completion_deadline == stored.completion_deadline
    assert receipt.duplicate_of is None
    (entry,) = view.audit
    assert entry["action"] == "create" and entry["actor"] == "rasa-bot"
    assert entry["changes"]["category_predicted"] is True


def test_a_given_category_wins_over_the_prediction_and_no_title_means_the_first_sentence(
    desk: TicketDesk,
) -> None:
    fields = {k: v for k, v in MATTER.items() if k != "title"} | {"category": "环境保护"}
    receipt = intake(desk, fields, actor="agent", predicted_category="城乡建设")
    view = desk.show(receipt.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.category1 == "环境保护" and "category_predicted" not in view.audit[0]["changes"]
    assert view.ticket.title == "幸福小区东门口的路灯坏了一个星期，晚上很黑"


def test_the_receipt_names_a_possible_duplicate(desk: TicketDesk, clock: FakeClock) -> None:
    first = intake(desk, MATTER, actor="a")
    clock.advance(hours=1)
    again = intake(desk, MATTER | {"title": "小区路灯坏了没人修"}, actor="a")
    assert again.duplicate_of == first.ticket_no


REFUSALS = [
    ({"channel": "rest"}, "channel"),
    ({"channel": "RASA"}, "channel"),
    ({"channel": ""}, "channel"),
    ({"phone": "12345"}, "phone"),
    ({"type": "闲聊"}, "type"),
    ({"content": "   "}, "content"),
    ({"title": "x" * 201}, "title"),
    ({"surprise": 1, "phone": "110"}, "phone"),
]


@pytest.mark.parametrize(("change", "field"), REFUSALS)
def test_a_request_outside_the_contract_is_refused_naming_the_field_and_nothing_is_stored(
    desk: TicketDesk, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(TicketRefusedError) as refused:
        intake(desk, MATTER | change, actor="a")
    assert any(problem.startswith(f"{field}:") for problem in refused.value.problems), refused.value
    assert isinstance(refused.value, InvalidTicketError)  # the API answers 422
    assert _count(desk) == 0


def test_an_unknown_channel_is_refused_with_the_valid_names(desk: TicketDesk) -> None:
    with pytest.raises(TicketRefusedError) as refused:
        intake(desk, MATTER | {"channel": "sms"}, actor="a")
    message = str(refused.value)
    assert all(f"'{name}'" in message for name in states.CHANNELS), message


def test_a_category_outside_the_taxonomy_is_refused(desk: TicketDesk) -> None:
    with pytest.raises(InvalidTicketError):
        intake(desk, MATTER | {"category": "不存在的分类"}, actor="a")
    assert _count(desk) == 0


# --- the chat door ------------------------------------------------------------------------------


def _chat(**fields: Any) -> TicketRequest:
    values: dict[str, Any] = {
        "title": "楼下烧烤店油烟太大",
        "content": "楼下烧烤店油烟太大，晚上十点还在营业",
        "phone": "13912345678",
        "location": "天河区体育西路1号",
        "channel": "web",
        "category": "环境保护",
    } | fields
    return TicketRequest(**values)


@pytest.mark.parametrize(
    ("door", "stored"), [("web", "web"), ("wechat", "wechat"), ("rest", "rasa"), ("cli", "api")]
)
def test_the_chat_door_files_under_its_ticket_channel(desk: TicketDesk, door: str, stored: str) -> None:
    receipt = SqlTicketGateway(desk).create(_chat(channel=door))
    view = desk.show(receipt.ticket_no, viewer=SUPERVISOR)
    assert view.ticket.channel == stored and view.ticket.created_by == "bot"
    assert view.ticket.category1 == "环境保护" and view.audit[0]["changes"]["category_predicted"] is True
    assert view.ticket.citizen_name is None and view.ticket.type == "投诉"


@pytest.mark.parametrize("channel", ["sms", "warmup", "Web"])
def test_the_chat_door_refuses_a_channel_it_does_not_know(desk: TicketDesk, channel: str) -> None:
    with pytest.raises(TicketRefusedError, match="channel"):
        SqlTicketGateway(desk).create(_chat(channel=channel))
    assert _count(desk) == 0


def test_without_consent_the_content_says_so() -> None:
    assert "不同意将联系方式转交" in ticket_fields(_chat(contact_consent=False))["content"]
    assert ticket_fields(_chat())["content"] == _chat().content


def test_status_shows_the_latest_reply_and_rating_is_audited_once(desk: TicketDesk) -> None:
    gateway = SqlTicketGateway(desk)
    receipt = gateway.create(_chat(category="城乡建设"))
    assert gateway.rate(receipt.ticket_no, "2345", 5) is False  # wrong digits
    assert gateway.rate(receipt.ticket_no, "5678", 5) is False  # not closed yet
    walk_to(desk, receipt.ticket_no, FEEDBACK)
    assert gateway.rate(receipt.ticket_no, "5678", 5) is False  # replied, not yet closed
    desk.transition(receipt.ticket_no, TransitionRequest(to=COMPLETED), viewer=AGENT)
    view = gateway.status(receipt.ticket_no, "5678")
    assert view is not None and view.closed and view.reply == "已修复路灯" and not view.rated
    assert gateway.rate(receipt.ticket_no, "5678", 3) is True
    assert gateway.rate(receipt.ticket_no, "5678", 5) is False  # once only
    trail = desk.show(receipt.ticket_no, viewer=SUPERVISOR).audit
    rates = [e for e in trail if e["action"] == "rate"]
    assert [(e["actor"], e["changes"]) for e in rates] == [
        ("citizen", {"satisfaction": "基本满意", "score": 3, "via": "chat"})
    ]
    assert gateway.status(receipt.ticket_no, "0000") is None
