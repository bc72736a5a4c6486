"""A served app over the prepared data directory, through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, load_settings
from server.app import create_app
from tests.utils.ticketdb import database_of

AGENT_TOKEN = "agent-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"


def server_settings(data_dir: Path, **server: object) -> Settings:
    settings = load_settings(data_dir=data_dir)
    settings.secrets.api_tokens = f"{AGENT_TOKEN}:agent,{ADMIN_TOKEN}:admin"
    settings.secrets.redis_url = ""
    # the data directory's own database: SQLite under data_dir (even with DATABASE_URL set), or on
    # PostgreSQL (make test-pg) the schema of the session or of this copy (copy_data_dir)
    url = database_of(data_dir)
    settings.secrets.database_url = url if url.startswith("postgresql") else ""
    settings.tickets.sweep_interval_seconds = 0
    for key, value in server.items():
        setattr(settings.server, key, value)
    return settings


@pytest.fixture(scope="session")
def client(prepared_dir: Path) -> Iterator[TestClient]:
    """One warm app for read-only tests (its sessions are private to each test's session_id)."""
    with TestClient(create_app(server_settings(prepared_dir))) as test_client:
        yield test_client
