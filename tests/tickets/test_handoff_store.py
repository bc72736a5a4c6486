"""The live-chat queue in the ticket database: one agent per conversation even when workers race,
state that outlives a restart, masking in the agents' view (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.handoff import desk_notices
from bot.responses import Responses
from tests.utils.factories import ticket_data
from tests.utils.ticketdb import FakeClock
from tickets.handoff import HandoffError, HandoffStore, handoff_calendar
from tickets.service import TicketDesk


def _store(desk: TicketDesk) -> HandoffStore:
    cfg = desk.settings
    return HandoffStore(
        desk.db,
        cfg.handoff,
        handoff_calendar(cfg.tickets, cfg.handoff),
        lambda: desk.clock(),
        notices=desk_notices(Responses.load()),
    )


def test_two_workers_race_to_take_one_conversation_and_only_one_gets_it(
    make_desk: Callable[[], TicketDesk],
) -> None:
    first, second = _store(make_desk()), _store(make_desk())  # two workers, one database
    opened = first.open(session_id="web:a", channel="web", transcript=[])
    results: list[str] = []

    def take(store: HandoffStore, agent: str) -> None:
        try:
            store.take(opened.id, agent)
            results.append(agent)
        except HandoffError as exc:
            assert exc.status == 409
            results.append("refused")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda pair: take(*pair), [(first, "agent-a"), (second, "agent-b")]))
    assert sorted(results)[-1] == "refused" and len([r for r in results if r != "refused"]) == 1
    winner = next(r for r in results if r != "refused")
    assert second.detail(opened.id)["agent"] == winner
    joined = [line for line in first.detail(opened.id)["lines"] if line["kind"] == "joined"]
    assert len(joined) == 1


def test_the_queue_outlives_a_restart(make_desk: Callable[[], TicketDesk], clock: FakeClock) -> None:
    desk = make_desk()
    store = _store(desk)
    one = store.open(session_id="web:a", channel="web", transcript=[("citizen", "你好"), ("bot", "您好！")])
    two = store.open(session_id="wechat:wx:o1", channel="wechat", transcript=[])
    assert (one.ahead, two.ahead) == (0, 1)
    desk.close()
    clock.advance(seconds=90)
    again = _store(make_desk())  # a new engine: the server restarted
    waiting = again.inbox()
    assert [c["id"] for c in waiting] == [one.id, two.id]
    assert waiting[0]["wait_seconds"] == 90 and waiting[0]["last"] == "您好！"
    assert again.for_citizen(one.id, one.token, 0)[0] == "waiting"
    with pytest.raises(HandoffError):
        again.for_citizen(one.id, two.token, 0)  # another conversation's token opens nothing


def test_agents_read_numbers_masked_citizens_read_their_own_lines(
    make_desk: Callable[[], TicketDesk],
) -> None:
    store = _store(make_desk())
    opened = store.open(session_id="web:a", channel="web", transcript=[])
    store.citizen_says(opened.id, "电话13812345678，身份证110101199003071234")
    store.take(opened.id, "agent-a")
    store.reply(opened.id, "agent-a", "收到")
    shown = [line["text"] for line in store.detail(opened.id)["lines"]]
    assert "电话138****5678，身份证110101********1234" in shown
    status, lines = store.for_citizen(opened.id, opened.token, 0)
    assert status == "active" and [line.text for line in lines][-1] == "收到"
    assert all(line.author is None for line in lines)  # the agent's account name stays inside
    with pytest.raises(HandoffError):
        store.reply(opened.id, "agent-b", "我也来")
    store.close(opened.id, "agent-a", "resolved")
    with pytest.raises(HandoffError):
        store.citizen_says(opened.id, "还在吗")


def test_live_chat_lines_are_sealed_at_rest_and_transcripts_kept_masked(
    make_desk: Callable[[], TicketDesk],
) -> None:
    from sqlalchemy import Text, select, type_coerce

    from core import crypto
    from tickets.handoff import Line, TicketTranscript

    desk = make_desk()
    store = _store(desk)
    opened = store.open(session_id="web:p", channel="web", transcript=[("citizen", "转人工")])
    store.citizen_says(opened.id, "我的电话13812345678，身份证110101199003071234")
    with desk.db.session() as s:  # the column as stored: ciphertext only
        raw = [str(v) for v in s.execute(select(type_coerce(Line.__table__.c.text, Text()))).scalars()]
    assert raw and all(crypto.is_sealed(v) for v in raw if v)
    assert not any("13812345678" in v or "110101199003071234" in v for v in raw)
    said = [line["text"] for line in store.detail(opened.id)["lines"]]
    assert any("138" in t and "转人工" not in t for t in said)  # read back through the model

    ticket = desk.create(
        ticket_data(), actor="agent-a", transcript=[{"who": "citizen", "text": "电话13812345678"}]
    )
    with desk.db.session() as s:
        kept = s.get(TicketTranscript, ticket.id)
        assert kept is not None and "13812345678" not in str(kept.lines) and "138" in str(kept.lines)


def test_a_ticket_and_its_transcript_are_stored_together_or_not_at_all(
    make_desk: Callable[[], TicketDesk], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, select

    from tickets import service
    from tickets.handoff import TicketTranscript
    from tickets.models import Ticket

    desk = make_desk()
    lines = [{"who": "citizen", "text": "路灯坏了三天"}]

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "add_transcript", broken)
    with pytest.raises(RuntimeError):
        desk.create(ticket_data(), actor="agent-a", intake_key="chat-7", transcript=lines)
    with desk.db.session() as s:  # the failed transcript took the ticket with it
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
    monkeypatch.undo()

    first = desk.create(ticket_data(), actor="agent-a", intake_key="chat-7", transcript=lines)
    again = desk.create(ticket_data(), actor="agent-a", intake_key="chat-7", transcript=lines)
    assert again.id == first.id
    with desk.db.session() as s:
        assert s.scalar(select(func.count()).select_from(TicketTranscript)) == 1
        kept = s.get(TicketTranscript, first.id)
        assert kept is not None and kept.lines[0]["text"] == "路灯坏了三天"


def test_citizens_read_the_desk_notices_in_the_configured_words(
    make_desk: Callable[[], TicketDesk],
) -> None:
    desk = make_desk()
    cfg = desk.settings
    words = {"joined": "客服小王来了", "closed": "服务结束", "wait": "请再等等"}
    store = HandoffStore(
        desk.db, cfg.handoff, handoff_calendar(cfg.tickets, cfg.handoff), lambda: desk.clock(), notices=words
    )
    opened = store.open(session_id="web:a", channel="web", transcript=[])
    shown, _, _ = store.take(opened.id, "agent-a")
    assert shown.text == "客服小王来了"
    agent_view = [line["text"] for line in store.detail(opened.id)["lines"] if line["kind"] == "joined"]
    assert agent_view == [""]  # agents see the kind, not the citizen's words
    store.close(opened.id, "agent-a", "resolved")
    _, lines = store.for_citizen(opened.id, opened.token, 0)
    assert [line.text for line in lines] == ["客服小王来了", "服务结束"]
    shipped = desk_notices(Responses.load())
    assert set(shipped) == {"joined", "closed", "wait"} and all(shipped.values())
