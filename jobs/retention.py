"""The retention sweep (settings.retention): conversation rows, unfinished ticket forms, the
unanswered-question log and the lines of ended live chats are deleted once they are older than
their period. The server runs it in the background; `govbot retention sweep` runs it once.

Sessions kept in Redis expire by themselves (bot.session_ttl_minutes, shorter than any
retention period), so the sweep only reaches the SQLite session file.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from bot.sessions import SessionStore, SqliteSessionStore
from core.settings import RetentionSettings
from tickets.db import TicketDB
from tickets.handoff import delete_lines_before
from tickets.unanswered import delete_unanswered_before

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    sessions_deleted: int
    forms_wiped: int
    unanswered_deleted: int
    live_lines_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep(
    cfg: RetentionSettings, *, db: TicketDB, sessions: SessionStore | None, now: datetime
) -> RetentionReport:
    """One sweep at `now` (the injected clock's time)."""
    deleted = wiped = 0
    if isinstance(sessions, SqliteSessionStore):
        deleted, wiped = sessions.sweep(
            sessions_before=(now - timedelta(hours=cfg.sessions_hours)).timestamp(),
            forms_before=(now - timedelta(hours=cfg.abandoned_forms_hours)).timestamp(),
        )
    gaps = db.run(
        lambda s: delete_unanswered_before(session=s, before=now - timedelta(days=cfg.unanswered_days))
    )
    lines = db.run(lambda s: delete_lines_before(session=s, before=now - timedelta(days=cfg.live_chat_days)))
    report = RetentionReport(deleted, wiped, gaps, lines)
    if any(report.as_dict().values()):
        log.info("retention.swept", extra=report.as_dict())
    return report


async def sweep_forever(
    run_once: Callable[[], RetentionReport],
    interval_seconds: float,
    *,
    pause: Callable[[float], Awaitable[None]] | None = None,
) -> None:
    """The server's background task: a sweep every interval, in a worker thread; a failure is
    logged and the next round tries again."""
    import anyio

    wait = pause or anyio.sleep
    while True:
        await wait(interval_seconds)
        try:
            await anyio.to_thread.run_sync(run_once)
        except Exception:
            log.exception("retention.sweep.failed")
