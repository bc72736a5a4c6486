"""Fixtures of the 12345 platform tests: the fake platform on loopback and a configured link
(on top of tests/tickets/conftest.py: every test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from core.settings import Settings
from jobs.platform import PlatformLink
from tests.tickets.platform.helpers import SECRET
from tests.utils.fake_platform import FakePlatform, LoopbackServer
from tickets.service import TicketDesk


@pytest.fixture
def fake() -> FakePlatform:
    return FakePlatform(secret=SECRET)


@pytest.fixture
def server(fake: FakePlatform) -> Iterator[LoopbackServer]:
    """The fake platform's server, not started (tests start and stop it)."""
    loop = LoopbackServer(fake.app())
    yield loop
    loop.stop()


@pytest.fixture
def platform_settings(ticket_settings: Settings, server: LoopbackServer) -> Settings:
    cfg = ticket_settings.hotline_platform
    cfg.enabled = True
    cfg.base_url = server.url
    cfg.timeout_seconds = 5.0  # a loaded machine still answers in time; the slow test lowers it
    cfg.retry.backoff_base_seconds = 30
    cfg.retry.backoff_max_seconds = 600
    ticket_settings.secrets.platform_secret = SECRET
    return ticket_settings


@pytest.fixture
def make_link(
    platform_settings: Settings, make_desk: Callable[[], TicketDesk]
) -> Iterator[Callable[[], tuple[TicketDesk, PlatformLink]]]:
    """Factory: a desk (new engine: a 'restart') and its platform link."""
    links: list[PlatformLink] = []

    def make() -> tuple[TicketDesk, PlatformLink]:
        desk = make_desk()
        link = PlatformLink(platform_settings, desk)
        links.append(link)
        return desk, link

    yield make
    for link in links:
        link.close()
