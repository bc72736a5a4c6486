"""A live-chat worker (LiveDesk over its own TicketDesk), as one server process holds it; tests
and bench/handoff_latency.py start two of them to see a line cross from one worker to the other."""

from __future__ import annotations

from pathlib import Path

from core.settings import load_settings
from server.live import LiveDesk
from tickets.service import TicketDesk


def live_worker(
    data_dir: Path,
    *,
    database_url: str = "",
    redis_url: str = "",
    prefix: str = "govbot:",
    poll_seconds: float | None = None,
    stream_seconds: float = 60,
) -> LiveDesk:
    """A migrated worker; `database_url` "" means the SQLite file in `data_dir` (shared by every
    worker given the same folder), `redis_url` "" means waking by polling the database."""
    settings = load_settings(data_dir=data_dir)
    settings.secrets.database_url = database_url
    settings.secrets.redis_url = redis_url
    settings.server.redis_prefix = prefix
    if poll_seconds is not None:
        settings.handoff.poll_seconds = poll_seconds
    settings.handoff.stream_seconds = stream_seconds
    desk = TicketDesk(settings)
    desk.migrate()
    return LiveDesk(settings, desk, [])
