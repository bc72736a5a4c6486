"""A real uvicorn server over a copy of the prepared data directory, with a fresh SQLite ticket
database and staff accounts: an agent, handlers of two departments and a supervisor."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from core.settings import Settings
from server.app import create_app
from tests.server.conftest import server_settings
from tests.utils.ticketdb import copy_data_dir
from tickets.service import TicketDesk

PASSWORD = "console-pass-9"
DEPT = "市住房城乡建设局"
OTHER_DEPT = "市生态环境局"
USERS = {
    "agent1": ("agent", None),
    "handler1": ("handler", DEPT),
    "handler2": ("handler", OTHER_DEPT),
    "handler1b": ("handler", DEPT),
    "sup1": ("supervisor", None),
}


@dataclass
class LiveServer:
    base_url: str
    settings: Settings

    def login(self, username: str) -> dict[str, str]:
        """Bearer headers for one of USERS, through the login API."""
        response = httpx.post(
            f"{self.base_url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("console")
    data_dir = root / "data"
    # a private copy: tickets and the knowledge base share the data directory's database
    copy_data_dir(prepared_dir, data_dir)
    settings = server_settings(data_dir)
    settings.tickets.console_refresh_seconds = 2  # the desk's live list, quick enough to watch
    desk = TicketDesk(settings)
    try:
        desk.migrate()
        for name, (role, department) in USERS.items():
            desk.add_user(name, PASSWORD, role=role, department=department)
    finally:
        desk.close()

    with serve(settings) as live:
        yield live


@contextmanager
def serve(settings: Settings) -> Iterator[LiveServer]:
    """The real app under uvicorn in a thread, on a free loopback port (several may share one
    data directory: each is a worker with its own warm engine)."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 300  # the engine warms up (model load) before serving
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start within 300 s"
        time.sleep(0.2)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
