"""Ticket tests run on SQLite and on PostgreSQL (skipped, with the reason, when unreachable)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings, load_settings
from tests.utils.ticketdb import BACKENDS, FakeClock, database_url
from tickets.service import TicketDesk


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def ticket_settings(tmp_path: Path) -> Settings:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.secrets.database_url = ""
    settings.secrets.webhook_secret = "test-webhook-secret"
    settings.tickets.sweep_interval_seconds = 0
    settings.tickets.webhook_url = "https://hooks.example.test/12345"
    return settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_desk(ticket_settings: Settings, clock: FakeClock, db_url: str) -> Iterator[Callable[[], TicketDesk]]:
    """Factory: a TicketDesk over the test database (a new engine each call: a 'restart')."""
    desks: list[TicketDesk] = []

    def make() -> TicketDesk:
        desk = TicketDesk.open(ticket_settings, clock=clock, url=db_url)
        desk.migrate()
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()


@pytest.fixture
def desk(make_desk: Callable[[], TicketDesk]) -> TicketDesk:
    return make_desk()
