"""A ticket desk on SQLite with a controllable clock, and a way to walk tickets through the workflow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import load_settings
from core.vocab import ACCEPTED, CALLED_BACK, COMPLETED, DISPATCHED, FEEDBACK, IN_PROGRESS
from tests.utils.ticketdb import FakeClock
from tickets.lifecycle import TransitionRequest
from tickets.schemas import TicketCreate
from tickets.service import TicketDesk
from tickets.users import Account

SUPERVISOR = Account("boss", "supervisor", None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # Monday 2026-11-23 10:00 Asia/Shanghai


@pytest.fixture
def desk(tmp_path: Path, clock: FakeClock) -> Iterator[TicketDesk]:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.secrets.database_url = ""
    settings.tickets.sweep_interval_seconds = 0
    desk = TicketDesk(settings, clock=clock, url=f"sqlite:///{tmp_path / 'tickets.sqlite'}")
    desk.migrate()
    yield desk
    desk.close()


def new_ticket(desk: TicketDesk, title: str, **fields: object) -> str:
    body = {"content": f"{title}。", "phone": "13812345678", "category": "城乡建设", "channel": "hotline"}
    data = TicketCreate.model_validate({"title": title, **body, **fields})
    return desk.create(data, actor="agent-1").ticket_no


def walk(desk: TicketDesk, ticket_no: str, to: str, *, reply: str = "已安排维修，问题已解决。") -> None:
    """Move a ticket along the main path (as a supervisor, who may take every step) up to `to`."""
    steps = [
        TransitionRequest(to=ACCEPTED),
        TransitionRequest(to=DISPATCHED),
        TransitionRequest(to=IN_PROGRESS),
        TransitionRequest(to=FEEDBACK, note=reply),
        TransitionRequest(to=COMPLETED),
        TransitionRequest(to=CALLED_BACK, satisfaction="满意"),
    ]
    for step in steps:
        desk.transition(ticket_no, step, viewer=SUPERVISOR)
        if step.to == to:
            return
    raise AssertionError(f"{to} is not on the main path")
