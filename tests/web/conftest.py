"""A real uvicorn server over a copy of the prepared data directory, for the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from server.app import create_app
from tests.server.conftest import server_settings
from tests.utils.ticketdb import copy_data_dir

START_TIMEOUT_S = 300  # the lifespan warms the engine; slow on a busy 2-core machine


class LiveServer:
    """uvicorn in a background thread, on a loopback port the OS picked."""

    def __init__(self, data_dir: Path) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        app = create_app(server_settings(data_dir))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="live-server", daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting; see the log above")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start within {START_TIMEOUT_S} s")
            time.sleep(0.1)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture(scope="session")
def live_server(prepared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a running server; its data directory is a private copy."""
    data_dir = tmp_path_factory.mktemp("live") / "data"
    copy_data_dir(prepared_dir, data_dir)
    server = LiveServer(data_dir)
    server.start()
    yield server.url
    server.stop()
