"""The desk's search and views, on SQLite and PostgreSQL: by number, phone suffix, words, local
date range, department, state; 待回访 and 已办结 as views; handlers see only their department."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from core.vocab import CALLED_BACK, COMPLETED, PENDING
from tests.tickets.helpers import AGENT, DEPT, HANDLER, OTHER_HANDLER, walk_to
from tests.utils.ticketdb import FakeClock
from tickets.lifecycle import TransitionRequest
from tickets.schemas import TicketCreate, TicketSearch
from tickets.service import TicketDesk


def _create(desk: TicketDesk, **fields: Any) -> str:
    body: dict[str, Any] = {
        "title": "小区路灯坏了",
        "content": "幸福小区东门口的路灯坏了一个星期。",
        "phone": "13812345678",
        "category": "城乡建设",
        "channel": "api",
    } | fields
    return desk.create(TicketCreate(**body), actor=AGENT.name).ticket_no


def _found(desk: TicketDesk, viewer: Any = AGENT, **criteria: Any) -> list[str]:
    return [t.ticket_no for t in desk.search(TicketSearch(**criteria), viewer=viewer)]


@pytest.fixture
def tickets(desk: TicketDesk, clock: FakeClock) -> dict[str, str]:
    clock.set_local("2026-11-23 10:00")
    lamp = _create(desk)
    clock.set_local("2026-11-24 23:30")  # late evening local, already the 24th 15:30 UTC
    noise = _create(desk, title="夜间施工噪音", content="工地凌晨两点还在打桩", phone="13900004321")
    clock.set_local("2026-11-25 09:00")
    smoke = _create(
        desk,
        title="烧烤油烟扰民",
        content="楼下烧烤店油烟太大_100%",
        phone="020-83331234",
        category="环境保护",
    )
    walk_to(desk, lamp, COMPLETED)
    return {"lamp": lamp, "noise": noise, "smoke": smoke}


def test_by_number_phone_words_and_the_one_box(desk: TicketDesk, tickets: dict[str, str]) -> None:
    lamp, noise, smoke = tickets["lamp"], tickets["noise"], tickets["smoke"]
    assert _found(desk, ticket_no=noise) == [noise]
    assert _found(desk, ticket_no=noise[:8]) == [noise]  # 20261124: that day's tickets
    assert _found(desk, q=noise) == [noise]
    assert _found(desk, q=noise.replace("-", "")) == [noise]
    assert _found(desk, phone="4321") == [noise] and _found(desk, q="4321") == [noise]
    assert _found(desk, q="5678") == [lamp]
    assert _found(desk, q="1234") == [smoke]  # a landline's last digits
    assert _found(desk, words="油烟") == [smoke] and _found(desk, q="打桩") == [noise]
    assert _found(desk, q="路灯 东门") == [lamp] and _found(desk, q="路灯 油烟") == []
    assert _found(desk, words="_100%") == [smoke] and _found(desk, words="%") == [smoke]  # no wildcards
    assert _found(desk) == [smoke, noise, lamp]  # newest first


def test_local_date_range_department_and_state(desk: TicketDesk, tickets: dict[str, str]) -> None:
    lamp, noise, smoke = tickets["lamp"], tickets["noise"], tickets["smoke"]
    assert _found(desk, date_from="2026-11-24", date_to="2026-11-24") == [noise]  # 23:30 local
    assert _found(desk, date_from="2026-11-24") == [smoke, noise]
    assert _found(desk, date_to="2026-11-23") == [lamp]
    assert _found(desk, department="市生态环境局") == [smoke]
    assert _found(desk, status=[PENDING]) == [smoke, noise]
    assert _found(desk, status=[COMPLETED], q="路灯") == [lamp]
    with pytest.raises(ValidationError):
        TicketSearch(status=["不存在"])


def test_closed_tickets_have_views_and_reach_callback(desk: TicketDesk, tickets: dict[str, str]) -> None:
    lamp = tickets["lamp"]
    assert [t.ticket_no for t in desk.queue(viewer=AGENT, queue="awaiting_callback")] == [lamp]
    assert [t.ticket_no for t in desk.queue(viewer=AGENT, queue="closed")] == [lamp]
    assert lamp not in [t.ticket_no for t in desk.queue(viewer=AGENT, queue="open")]
    (waiting,) = desk.queue(viewer=AGENT, queue="awaiting_callback")  # 回访 reached from the list
    request = TransitionRequest(to=CALLED_BACK, satisfaction="满意", callback_result="市民满意")
    assert desk.transition(waiting.ticket_no, request, viewer=AGENT).status == CALLED_BACK
    assert desk.queue(viewer=AGENT, queue="awaiting_callback") == []
    assert [t.ticket_no for t in desk.queue(viewer=AGENT, queue="closed")] == [lamp]
    assert _found(desk, queue="closed", q="路灯") == [lamp]


def test_handlers_find_only_their_department(desk: TicketDesk, tickets: dict[str, str]) -> None:
    assert HANDLER.department == DEPT
    assert _found(desk, HANDLER) == [tickets["noise"], tickets["lamp"]]  # 城乡建设 routes to DEPT
    assert _found(desk, HANDLER, q=tickets["smoke"]) == []
    assert _found(desk, OTHER_HANDLER, q="油烟") == [tickets["smoke"]]  # 环境保护 routes there
    assert _found(desk, OTHER_HANDLER, q=tickets["lamp"]) == []
