"""Telling citizens the truth: every reply template and every reply rendered from real tickets
(SQLite, the real SQL desk, a fake clock) shows times in tickets.timezone and in words, and never
another citizen's ticket number. The deadline a citizen reads is the one the desk counts to."""

from __future__ import annotations

import ast
import re
import string
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.assistant import Assistant
from bot.messages import BotReply, UserMessage
from bot.responses import Responses
from core.citizen_time import citizen_deadline
from core.settings import PROJECT_ROOT, load_settings
from core.vocab import CALLED_BACK, COMPLETED, DISPATCHED, FEEDBACK, IN_PROGRESS
from tests.tickets.helpers import walk_to
from tests.utils.citizen_text import citizen_problems
from tests.utils.ticketdb import FakeClock
from tickets.chat_gateway import SqlTicketGateway
from tickets.models import Ticket
from tickets.service import TicketDesk

ZONE = ZoneInfo("Asia/Shanghai")
CONNECTOR_TEMPLATES = [PROJECT_ROOT / "connectors" / "rasa_actions.py"]
TIME_FIELDS = {"deadline", "feedback_deadline"}
LAMP = "幸福小区东门口的路灯坏了一个多星期，晚上漆黑一片，老人摔倒过"
PLACE = "海珠区幸福小区东门"


def _connector_templates() -> dict[str, str]:
    """The UTTER_* texts the connectors define themselves (read, not imported: rasa_sdk lives in
    .venv-rasa)."""
    found: dict[str, str] = {}
    for path in CONNECTOR_TEMPLATES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.startswith("UTTER_"):
                        found[f"{path.name}:{target.id}"] = str(node.value.value)
    return found


def _all_templates() -> dict[str, str]:
    templates = {
        f"{name}[{i}]": text
        for name, variants in Responses.load().templates.items()
        for i, text in enumerate(variants)
    }
    return templates | _connector_templates()


def test_the_scan_sees_the_connector_templates() -> None:
    assert "rasa_actions.py:UTTER_TICKET_FAILED" in _connector_templates()


@pytest.mark.parametrize(("name", "template"), sorted(_all_templates().items()))
def test_every_template_rendered_is_fit_for_a_citizen(name: str, template: str) -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
    assert "other" not in fields, f"{name} names another ticket"
    foreign = "20261201-0007"  # what a template would show if it carried another citizen's ticket
    deadline = citizen_deadline(
        FakeClock().now + timedelta(hours=8), zone=ZONE, now=FakeClock().now
    )  # the one formatter
    values = {f: (deadline if f in TIME_FIELDS else "值") for f in fields}
    rendered = template.format(**values)
    assert citizen_problems(rendered, others=[foreign]) == [], name
    assert not re.search(r"\{\w*\}", rendered), name


# --- replies rendered from real tickets ------------------------------------------------------
@pytest.fixture
def clock() -> FakeClock:
    clock = FakeClock()
    clock.set_local("2026-12-01 10:00")  # a Tuesday morning in Beijing
    return clock


@pytest.fixture
def desk(prepared_dir: Path, tmp_path: Path, clock: FakeClock) -> Iterator[TicketDesk]:
    settings = load_settings(data_dir=prepared_dir)
    settings.secrets.database_url = ""
    desk = TicketDesk.open(settings, clock=clock, url=f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    desk.migrate()
    yield desk
    desk.close()


@pytest.fixture
def bot(prepared_dir: Path, desk: TicketDesk, clock: FakeClock) -> Iterator[Assistant]:
    assistant = Assistant(load_settings(data_dir=prepared_dir), desk=SqlTicketGateway(desk), clock=clock)
    yield assistant
    assistant.close()


def _file(bot: Assistant, phone: str) -> BotReply:
    session = uuid.uuid4().hex
    for text in (LAMP, PLACE, phone, "跳过", "同意"):
        bot.handle(UserMessage(text=text, session_id=session, channel="web"))
    reply = bot.handle(UserMessage(text="确认提交", session_id=session, channel="web"))
    assert reply.ticket is not None, reply.reply
    return reply


def _stored(desk: TicketDesk, ticket_no: str) -> Ticket:
    from sqlalchemy import select

    with desk.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
        assert ticket is not None
        session.expunge(ticket)
        return ticket


def test_the_citizen_reads_the_deadline_the_desk_counts_to_in_local_words(
    bot: Assistant, desk: TicketDesk, clock: FakeClock
) -> None:
    reply = _file(bot, "13812345678")
    stored = _stored(desk, reply.ticket["ticket_no"])  # type: ignore[index]
    local = stored.feedback_deadline.astimezone(ZONE)
    words = citizen_deadline(stored.feedback_deadline, zone=ZONE, now=clock())
    assert words in reply.reply and f"{local:%H:%M}前" in reply.reply
    assert words.startswith(("今天", "明天", f"{local.month}月{local.day}日"))
    utc = stored.feedback_deadline.astimezone(UTC)
    assert f"{utc:%H:%M}" != f"{local:%H:%M}" and f"{utc:%H:%M}前" not in reply.reply
    assert citizen_problems(reply.reply) == []


def test_a_second_citizen_is_told_of_a_similar_report_but_not_its_number(
    bot: Assistant, desk: TicketDesk
) -> None:
    first = _file(bot, "13812345678").ticket["ticket_no"]  # type: ignore[index]
    second = _file(bot, "13987654321")
    number = second.ticket["ticket_no"]  # type: ignore[index]
    assert "相似" in second.reply and number in second.reply
    assert citizen_problems(second.reply, others=[first]) == [], second.reply
    assert "duplicate_of" not in second.ticket  # type: ignore[operator]
    assert first not in str(second.model_dump())
    assert _stored(desk, number).duplicate_of_id == _stored(desk, first).id  # staff still see it


@pytest.mark.parametrize("state", [DISPATCHED, IN_PROGRESS, FEEDBACK, COMPLETED, CALLED_BACK])
def test_status_replies_of_real_tickets_in_every_state(
    bot: Assistant, desk: TicketDesk, clock: FakeClock, state: str
) -> None:
    other = _file(bot, "13700001111").ticket["ticket_no"]  # type: ignore[index]
    mine = _file(bot, "13812345678").ticket["ticket_no"]  # type: ignore[index]
    walk_to(desk, mine, state)
    clock.advance(hours=20)  # the next day: the deadline reads differently now
    reply = bot.handle(UserMessage(text=f"查询工单{mine}，手机尾号5678", session_id=uuid.uuid4().hex))
    assert reply.action == "ticket_status" and state in reply.reply
    stored = _stored(desk, mine)
    assert citizen_deadline(stored.feedback_deadline, zone=ZONE, now=clock()) in reply.reply
    assert citizen_problems(reply.reply, others=[other]) == [], reply.reply
