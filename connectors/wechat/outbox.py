"""WeChat's outbox: answers sent through the customer-service API (connectors/push_outbox.py),
kept in `wechat.sqlite`. By default a part is given up when WeChat's 48-hour customer-service
window has closed (`channels.wechat.outbox.retry`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from connectors.push_outbox import OutboxRow, PushColumns, PushOutbox
from core.channel_settings import OutboxSettings
from core.clock import Clock, system_clock

__all__ = ["Outbox", "OutboxRow", "WeChatSend"]

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class WeChatSend(PushColumns, _Base):
    """One part of one answer, with the outbox engine's columns."""

    __tablename__ = "wechat_sends"


class Outbox(PushOutbox):
    """WeChat's answers in `wechat.sqlite`; files from before the shared engine are adopted."""

    def __init__(self, path: Path, settings: OutboxSettings, *, clock: Clock = system_clock) -> None:
        super().__init__(path, settings, WeChatSend, name="wechat.outbox", clock=clock)
        _adopt_legacy_rows(self._engine, self._sessions)


def _adopt_legacy_rows(engine: Any, sessions: sessionmaker[Session]) -> None:
    """wechat.sqlite files written before the shared engine kept rows in `wechat_outbox`
    (status, epoch seconds): move the undelivered ones over once, then drop that table."""
    if "wechat_outbox" not in inspect(engine).get_table_names():
        return
    with sessions.begin() as session:
        legacy = session.execute(
            text(
                "SELECT app_id, touser, content, msg_key, part, attempts, next_at, created_at, last_error"
                " FROM wechat_outbox WHERE status IN ('pending', 'sending') ORDER BY id"
            )
        ).all()
        for app_id, touser, content, msg_key, part, attempts, next_at, created_at, error in legacy:
            session.execute(
                insert(WeChatSend)
                .values(
                    app_id=app_id,
                    touser=touser,
                    content=content,
                    msg_key=msg_key,
                    part=part,
                    attempts=attempts,
                    next_attempt_at=datetime.fromtimestamp(next_at, UTC),
                    created_at=datetime.fromtimestamp(created_at, UTC),
                    failed=False,
                    last_error=error or None,
                )
                .on_conflict_do_nothing()
            )
        session.execute(text("DROP TABLE wechat_outbox"))
        log.info("wechat.outbox.adopted", extra={"rows": len(legacy)})
