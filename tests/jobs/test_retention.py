"""The retention sweep (jobs/retention.py) on a ManualClock: old conversations deleted, unfinished
ticket forms wiped, the unanswered log trimmed, each after its configured period and not before;
the server's background loop keeps going after a failed round."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.handoff import desk_notices
from bot.responses import Responses
from bot.sessions import SessionState, SqliteSessionStore
from bot.ticket_form import TicketForm
from core.clock import ManualClock
from core.settings import RetentionSettings, load_settings
from jobs.retention import RetentionReport, sweep, sweep_forever
from tickets.handoff import HandoffStore, Line, handoff_calendar
from tickets.service import TicketDesk
from tickets.unanswered import UnansweredQuestion, record_unanswered

CFG = RetentionSettings(sessions_hours=24, abandoned_forms_hours=2, unanswered_days=90, live_chat_days=30)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def desk(tmp_path: Path, clock: ManualClock) -> Iterator[TicketDesk]:
    settings = load_settings(data_dir=tmp_path / "data")
    settings.secrets.database_url = ""
    desk = TicketDesk.open(settings, clock=clock)
    desk.migrate()
    yield desk
    desk.close()


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock, desk: TicketDesk) -> Iterator[SqliteSessionStore]:
    # a long TTL, so what the sweep left can still be read back
    store = SqliteSessionStore(tmp_path / "sessions.sqlite", 100_000, keyring=desk.keyring, clock=clock)
    yield store
    store.close()


def _with_form(phone: str) -> SessionState:
    return SessionState(form=TicketForm(description="楼下烧烤店油烟太大影响休息", phone=phone), turns=3)


def _ids(store: SqliteSessionStore) -> set[str]:
    return {row[0] for row in store._conn.execute("SELECT id FROM sessions")}


def test_sessions_and_forms_go_after_their_periods(
    store: SqliteSessionStore, desk: TicketDesk, clock: ManualClock
) -> None:
    store.put("old-form", _with_form("13700139000"))
    store.put("old-chat", SessionState(last_item_id="guide-1", turns=2))
    clock.advance(hours=1)
    store.put("new-form", _with_form("13911112222"))
    clock.advance(hours=1, minutes=1)  # old ones 2 h 1 min, new one 1 h 1 min since the last turn

    report = sweep(CFG, db=desk.db, sessions=store, now=clock())
    assert report == RetentionReport(sessions_deleted=0, forms_wiped=1, unanswered_deleted=0)
    assert store.get("old-form").form is None and store.get("old-form").turns == 3  # the rest stays
    assert store.get("new-form").form is not None  # a citizen may still come back to it
    assert store.get("old-chat").last_item_id == "guide-1"
    assert sweep(CFG, db=desk.db, sessions=store, now=clock()).forms_wiped == 0  # once only

    clock.advance(hours=22)  # old ones 24 h 1 min, new one 23 h 1 min
    report = sweep(CFG, db=desk.db, sessions=store, now=clock())
    assert report.sessions_deleted == 2 and _ids(store) == {"new-form"}
    assert report.forms_wiped == 1  # the new form is past its 2 h as well


def test_the_unanswered_log_is_trimmed_after_its_days(desk: TicketDesk, clock: ManualClock) -> None:
    def record(text: str) -> None:
        desk.db.run(
            lambda s: record_unanswered(session=s, text=text, reason="fallback", channel="web", now=clock())
        )

    record("第一个问题没有答案")
    clock.advance(days=89)
    record("第二个问题没有答案")
    clock.advance(days=1, minutes=1)
    assert sweep(CFG, db=desk.db, sessions=None, now=clock()).unanswered_deleted == 1
    with desk.db.session() as s:
        assert s.scalar(select(func.count()).select_from(UnansweredQuestion)) == 1
    assert sweep(CFG, db=desk.db, sessions=None, now=clock()).unanswered_deleted == 0


def test_live_chat_lines_go_a_period_after_the_chat_ended(desk: TicketDesk, clock: ManualClock) -> None:
    cfg = desk.settings
    calendar = handoff_calendar(cfg.tickets, cfg.handoff)
    live = HandoffStore(desk.db, cfg.handoff, calendar, clock, notices=desk_notices(Responses.load()))
    ended = live.open(session_id="web:a", channel="web", transcript=[("citizen", "转人工")])
    live.citizen_says(ended.id, "我的电话是13700139000，请回电")
    live.take(ended.id, "agent-1")
    live.close(ended.id, "agent-1", "resolved")
    clock.advance(days=10)
    going_on = live.open(session_id="web:b", channel="web", transcript=[])
    live.citizen_says(going_on.id, "还在等人工")

    def lines(conversation_id: int) -> int:
        with desk.db.session() as s:
            query = select(func.count()).select_from(Line).where(Line.conversation_id == conversation_id)
            return int(s.scalar(query) or 0)

    kept = lines(ended.id)
    clock.advance(days=20)  # ended 30 days ago less a minute: not yet
    clock.advance(minutes=-1)
    assert sweep(CFG, db=desk.db, sessions=None, now=clock()).live_lines_deleted == 0
    assert lines(ended.id) == kept > 0
    clock.advance(minutes=2)
    assert sweep(CFG, db=desk.db, sessions=None, now=clock()).live_lines_deleted == kept
    assert lines(ended.id) == 0 and lines(going_on.id) > 0  # opened 20 days ago, still open
    assert live.live_status(ended.id) is None and live.live_status(going_on.id) == "waiting"


def test_the_background_loop_survives_a_failed_round(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    waits: list[float] = []

    def run_once() -> RetentionReport:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database away")
        return RetentionReport(0, 0, 0)

    async def pause(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 3:
            raise asyncio.CancelledError

    with caplog.at_level(logging.ERROR), pytest.raises(asyncio.CancelledError):
        asyncio.run(sweep_forever(run_once, 3600, pause=pause))
    assert rounds == [0, 1, 2] and waits == [3600] * 4
    assert "retention.sweep.failed" in caplog.text


def test_the_configured_defaults_are_the_documented_ones() -> None:
    cfg = load_settings().retention
    assert (cfg.sessions_hours, cfg.abandoned_forms_hours, cfg.unanswered_days) == (24, 2, 90)
    assert cfg.live_chat_days == 30
    with pytest.raises(ValueError):
        RetentionSettings(sessions_hours=0)
