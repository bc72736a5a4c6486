"""Live conversations with agents (转人工): the queue, who took what, and every line said.

State lives in the ticket database (tables below, migration 0009_handoff), so a conversation
survives a restart and every worker sees the same queue. Every change adds a row to
`handoff_messages` (text, or an event such as "joined"), whose id only grows: an event stream is
"the rows after the last id I sent". `notify` is called after each committed change so that the
server's bus (tickets/handoff_bus.py) can wake the streams of every worker at once.

Agents read citizens' lines with phone and ID numbers masked (core/privacy.py); citizens get
their conversation's lines only with the conversation's secret token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import Clock
from core.crypto import Sealed
from core.db import Database
from core.privacy import mask_personal
from core.settings import HandoffSettings, TicketSettings
from core.sqltypes import UTCDateTime
from tickets.models import Base
from tickets.sla import calendar_from_settings
from tickets.workcalendar import WorkCalendar

WAITING, ACTIVE, CLOSED = "waiting", "active", "closed"
LIVE = (WAITING, ACTIVE)
OUTCOMES = ("resolved", "ticket", "citizen_left", "unanswered")
# Who speaks a line: the citizen, the bot (the transcript before the handoff), an agent, or the
# desk itself (joined, closed, the wait notice), which citizens see as a notice.
CITIZEN, BOT, AGENT, SYSTEM = "citizen", "bot", "agent", "system"
# The desk's own lines: citizens are shown a notice for each (its text is the response
# `utter_handoff_notice_<kind>` in bot/data/responses.yml, given to HandoffStore); agents see the kind.
NOTICE_KINDS = ("joined", "closed", "wait")


class HandoffError(Exception):
    """A request the conversation's state refuses (taken by another agent, already closed...)."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class Conversation(Base):
    __tablename__ = "handoff_conversations"
    __table_args__ = (Index("ix_handoff_conversations_status", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(200), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(64))  # the citizen's key to read this conversation
    status: Mapped[str] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    ticket_no: Mapped[str | None] = mapped_column(String(20))
    wait_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # told nobody took it yet
    citizen_cursor: Mapped[int] = mapped_column(Integer, default=0)  # last line handed to the citizen


class Line(Base):
    __tablename__ = "handoff_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("handoff_conversations.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    author: Mapped[str | None] = mapped_column(String(64))  # the agent's name on their lines
    text: Mapped[str] = mapped_column(Sealed(), default="")  # what citizen and agent typed, sealed at rest


class AgentPresence(Base):
    """An agent with an open inbox, as of its last heartbeat."""

    __tablename__ = "agent_presence"

    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketTranscript(Base):
    """The conversation a ticket came from, attached when a live chat ends as a ticket."""

    __tablename__ = "ticket_transcripts"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


def delete_lines_before(*, session: Session, before: datetime) -> int:
    """Retention: remove every line of the conversations that ended before `before` (or, never
    ended, were opened before it); the conversation rows stay for counts. Returns how many."""
    old = select(Conversation.id).where(
        func.coalesce(Conversation.closed_at, Conversation.opened_at) < before
    )
    result = session.execute(delete(Line).where(Line.conversation_id.in_(old)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Availability:
    """Whether a person can take a conversation now, and why not."""

    open_now: bool  # within live-chat hours
    agents: int  # agents with an open inbox
    next_open: datetime | None  # the next start of live-chat hours (when closed now)

    @property
    def available(self) -> bool:
        return self.open_now and self.agents > 0


@dataclass(frozen=True)
class Opened:
    id: int
    token: str
    ahead: int  # conversations waiting before this one


@dataclass(frozen=True)
class LineView:
    id: int
    at: datetime
    sender: str
    kind: str
    text: str
    author: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "sender": self.sender,
            "kind": self.kind,
            "text": self.text,
            "author": self.author,
        }


def _view(line: Line, *, for_agent: bool, notices: Mapping[str, str] | None = None) -> LineView:
    """A line as an agent sees it (citizen's numbers masked) or as the citizen does (notices as text)."""
    if for_agent:
        text = mask_personal(line.text) if line.sender in (CITIZEN, BOT) else line.text
    elif line.sender == SYSTEM:
        text = (notices or {}).get(line.kind, line.text)
    else:
        text = line.text
    author = line.author if for_agent else None
    return LineView(line.id, line.at, line.sender, line.kind, text, author)


def handoff_calendar(tickets: TicketSettings, handoff: HandoffSettings) -> WorkCalendar:
    """Live-chat hours on the tickets' calendar: the same official holidays, 调休 and local days."""
    cfg = tickets.model_copy(
        update={"working_hours": handoff.working_hours, "working_weekdays": handoff.working_weekdays}
    )
    return calendar_from_settings(cfg)


class HandoffStore:
    """One method per unit of work, each its own transaction; `notify` after every change."""

    def __init__(
        self,
        db: Database,
        settings: HandoffSettings,
        calendar: WorkCalendar,
        clock: Clock,
        notify: Callable[[], None] | None = None,
        *,
        notices: Mapping[str, str],
    ) -> None:
        self.db = db
        self.settings = settings
        self.calendar = calendar
        self.clock = clock
        self.notify = notify or (lambda: None)
        self.notices = notices

    def _for_citizen(self, line: Line) -> LineView:
        return _view(line, for_agent=False, notices=self.notices)

    def _changed(self, result: Any) -> Any:
        self.notify()
        return result

    # --- who is there -------------------------------------------------------------------
    def heartbeat(self, agent: str) -> None:
        now = self.clock()

        def job(s: Session) -> None:
            row = s.get(AgentPresence, agent)
            if row is None:
                s.add(AgentPresence(agent=agent, seen_at=now))
            else:
                row.seen_at = now

        self.db.run(job, retry_integrity=True)

    def leave(self, agent: str) -> None:
        """The agent's inbox closed: no longer counted as present."""
        self.db.run(lambda s: s.execute(delete(AgentPresence).where(AgentPresence.agent == agent)))

    def agents_present(self) -> int:
        since = self.clock() - timedelta(seconds=self.settings.presence_seconds)
        query = select(func.count()).select_from(AgentPresence).where(AgentPresence.seen_at >= since)
        return int(self.db.run(lambda s: s.execute(query).scalar_one()))

    def availability(self) -> Availability:
        now = self.clock()
        open_now = self.settings.enabled and self.calendar.is_open(now)
        agents = self.agents_present() if open_now else 0
        next_open = None if open_now or not self.settings.enabled else self.calendar.next_open(now)
        return Availability(open_now, agents, next_open)

    # --- the citizen's side ---------------------------------------------------------------
    def open(self, *, session_id: str, channel: str, transcript: list[tuple[str, str]]) -> Opened:
        """A new waiting conversation with the bot's transcript so far ((sender, text) pairs)."""
        now = self.clock()
        token = secrets.token_urlsafe(24)

        def job(s: Session) -> Opened:
            row = Conversation(
                session_id=session_id, channel=channel, token=token, status=WAITING, opened_at=now
            )
            s.add(row)
            s.flush()
            for sender, text in transcript:
                s.add(Line(conversation_id=row.id, at=now, sender=sender, kind="text", text=text))
            s.add(Line(conversation_id=row.id, at=now, sender=SYSTEM, kind="opened", text=""))
            s.flush()
            last = s.execute(select(func.max(Line.id)).where(Line.conversation_id == row.id)).scalar_one()
            row.citizen_cursor = int(last)
            return Opened(row.id, token, self._ahead(s, row))

        return self._changed(self.db.run(job))  # type: ignore[no-any-return]

    @staticmethod
    def _ahead(s: Session, row: Conversation) -> int:
        query = select(func.count()).where(Conversation.status == WAITING, Conversation.id < row.id)
        return int(s.execute(query).scalar_one())

    def live_status(self, conversation_id: int) -> str | None:
        """waiting / active while the conversation goes on, else None (closed or unknown)."""
        row = self.db.run(lambda s: s.get(Conversation, conversation_id))
        return row.status if row is not None and row.status in LIVE else None

    def ahead(self, conversation_id: int) -> int:
        def job(s: Session) -> int:
            row = s.get(Conversation, conversation_id)
            return 0 if row is None else self._ahead(s, row)

        return int(self.db.run(job))

    def citizen_says(self, conversation_id: int, text: str) -> list[LineView]:
        """Store the citizen's line; return the lines for the citizen not yet handed over."""

        def job(s: Session) -> list[LineView]:
            row = s.get(Conversation, conversation_id)
            if row is None or row.status not in LIVE:
                raise HandoffError("the conversation has ended")
            s.add(Line(conversation_id=row.id, at=self.clock(), sender=CITIZEN, text=text))
            return self._unread(s, row)

        return self._changed(self.db.run(job))  # type: ignore[no-any-return]

    def _unread(self, s: Session, row: Conversation) -> list[LineView]:
        lines = s.scalars(
            select(Line)
            .where(
                Line.conversation_id == row.id,
                Line.id > row.citizen_cursor,
                Line.sender.in_((AGENT, SYSTEM)),
            )
            .order_by(Line.id)
        ).all()
        shown = [self._for_citizen(line) for line in lines if line.kind in (*NOTICE_KINDS, "text")]
        if lines:
            row.citizen_cursor = lines[-1].id
        return shown

    def for_citizen(self, conversation_id: int, token: str, after: int) -> tuple[str, list[LineView]]:
        """(status, lines after `after`) of the citizen's own conversation; 404 for a wrong token."""

        def job(s: Session) -> tuple[str, list[LineView]]:
            row = s.get(Conversation, conversation_id)
            if row is None or not secrets.compare_digest(row.token, token):
                raise HandoffError("no such conversation", status=404)
            lines = s.scalars(
                select(Line)
                .where(Line.conversation_id == row.id, Line.id > after, Line.sender.in_((AGENT, SYSTEM)))
                .order_by(Line.id)
            ).all()
            shown = [self._for_citizen(x) for x in lines if x.kind in (*NOTICE_KINDS, "text")]
            return row.status, shown

        return self.db.run(job)  # type: ignore[no-any-return]

    def citizen_leaves(self, conversation_id: int, outcome: str = "citizen_left") -> None:
        self.close(conversation_id, None, outcome)

    # --- the agents' side -----------------------------------------------------------------
    def inbox(self) -> list[dict[str, Any]]:
        """Live conversations, oldest first, with their wait and last line (masked)."""
        now = self.clock()

        def job(s: Session) -> list[dict[str, Any]]:
            rows = s.scalars(
                select(Conversation).where(Conversation.status.in_(LIVE)).order_by(Conversation.id)
            ).all()
            out = []
            for row in rows:
                last = s.scalars(
                    select(Line)
                    .where(Line.conversation_id == row.id, Line.kind == "text")
                    .order_by(Line.id.desc())
                    .limit(1)
                ).first()
                out.append(
                    {
                        "id": row.id,
                        "channel": row.channel,
                        "status": row.status,
                        "agent": row.agent,
                        "opened_at": row.opened_at.isoformat(),
                        "wait_seconds": int(((row.taken_at or now) - row.opened_at).total_seconds()),
                        "last": _view(last, for_agent=True).text[:80] if last is not None else "",
                    }
                )
            return out

        return self.db.run(job)  # type: ignore[no-any-return]

    def detail(self, conversation_id: int, after: int = 0) -> dict[str, Any]:
        """A conversation as an agent sees it: its state and lines after `after`, masked."""

        def job(s: Session) -> dict[str, Any]:
            row = s.get(Conversation, conversation_id)
            if row is None:
                raise HandoffError("no such conversation", status=404)
            lines = s.scalars(
                select(Line).where(Line.conversation_id == row.id, Line.id > after).order_by(Line.id)
            ).all()
            return {
                "id": row.id,
                "channel": row.channel,
                "status": row.status,
                "agent": row.agent,
                "opened_at": row.opened_at.isoformat(),
                "outcome": row.outcome,
                "ticket_no": row.ticket_no,
                "lines": [_view(x, for_agent=True).as_dict() for x in lines],
            }

        return self.db.run(job)  # type: ignore[no-any-return]

    def take(self, conversation_id: int, agent: str) -> tuple[LineView, str, str]:
        """The agent takes a waiting conversation; only one agent ever gets it (409 for the rest).
        Returns the citizen's notice with the conversation's channel and session (for delivery)."""
        now = self.clock()

        def job(s: Session) -> tuple[LineView, str, str]:
            taken = s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.status == WAITING)
                .values(status=ACTIVE, agent=agent, taken_at=now)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                row = s.get(Conversation, conversation_id)
                if row is None:
                    raise HandoffError("no such conversation", status=404)
                raise HandoffError(
                    f"the conversation is {row.status}" + (f" with {row.agent}" if row.agent else "")
                )
            line = Line(conversation_id=conversation_id, at=now, sender=SYSTEM, kind="joined", author=agent)
            s.add(line)
            s.flush()
            row = s.get(Conversation, conversation_id)
            assert row is not None
            return self._for_citizen(line), row.channel, row.session_id

        return self._changed(self.db.run(job))  # type: ignore[no-any-return]

    def _owned(self, s: Session, conversation_id: int, agent: str | None) -> Conversation:
        row = s.get(Conversation, conversation_id)
        if row is None:
            raise HandoffError("no such conversation", status=404)
        if row.status == CLOSED:
            raise HandoffError("the conversation is closed")
        if agent is not None and row.agent != agent:
            raise HandoffError(
                "take the conversation first" if row.agent is None else f"taken by {row.agent}"
            )
        return row

    def reply(self, conversation_id: int, agent: str, text: str) -> tuple[LineView, str, str]:
        """The agent's line; returns it with the conversation's channel and session (for delivery)."""

        def job(s: Session) -> tuple[LineView, str, str]:
            row = self._owned(s, conversation_id, agent)
            line = Line(conversation_id=row.id, at=self.clock(), sender=AGENT, author=agent, text=text)
            s.add(line)
            s.flush()
            return self._for_citizen(line), row.channel, row.session_id

        return self._changed(self.db.run(job))  # type: ignore[no-any-return]

    def close(
        self, conversation_id: int, agent: str | None, outcome: str, ticket_no: str | None = None
    ) -> tuple[LineView, str, str]:
        """End the conversation; returns the closing notice with the channel and session."""
        if outcome not in OUTCOMES:
            raise HandoffError(f"outcome must be one of {', '.join(OUTCOMES)}", status=422)
        now = self.clock()

        def job(s: Session) -> tuple[LineView, str, str]:
            row = self._owned(s, conversation_id, agent)
            row.status, row.closed_at, row.outcome, row.ticket_no = CLOSED, now, outcome, ticket_no
            line = Line(conversation_id=row.id, at=now, sender=SYSTEM, kind="closed", author=agent)
            s.add(line)
            s.flush()
            return self._for_citizen(line), row.channel, row.session_id

        return self._changed(self.db.run(job))  # type: ignore[no-any-return]

    def transcript(self, conversation_id: int) -> list[dict[str, Any]]:
        """The conversation's text lines, as stored (attached to a ticket made from it)."""
        query = (
            select(Line).where(Line.conversation_id == conversation_id, Line.kind == "text").order_by(Line.id)
        )
        return [
            {"at": x.at.isoformat(), "sender": x.sender, "author": x.author, "text": x.text}
            for x in self.db.run(lambda s: s.scalars(query).all())
        ]

    def citizen_text(self, conversation_id: int) -> str:
        """Everything the citizen typed in the conversation, one line each (for a ticket draft)."""
        return "\n".join(x["text"] for x in self.transcript(conversation_id) if x["sender"] == CITIZEN)

    # --- time passing -----------------------------------------------------------------------
    def overdue(self) -> list[tuple[int, str, str]]:
        """Waiting conversations nobody took within the configured time and not yet told so:
        each gets a 'wait' line (the citizen is offered a ticket); returns (id, channel, session)."""
        now = self.clock()
        since = now - timedelta(minutes=self.settings.wait_timeout_minutes)

        def job(s: Session) -> list[tuple[int, str, str]]:
            rows = s.scalars(
                select(Conversation).where(
                    Conversation.status == WAITING,
                    Conversation.opened_at <= since,
                    Conversation.wait_notice_at.is_(None),
                )
            ).all()
            told = []
            for row in rows:  # claimed one by one: two workers' sweeps tell each citizen once
                claimed = s.execute(
                    update(Conversation)
                    .where(Conversation.id == row.id, Conversation.wait_notice_at.is_(None))
                    .values(wait_notice_at=now)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    s.add(Line(conversation_id=row.id, at=now, sender=SYSTEM, kind="wait", text=""))
                    told.append((row.id, row.channel, row.session_id))
            return told

        found = self.db.run(job)
        if found:
            self.notify()
        return found  # type: ignore[no-any-return]

    def last_id(self) -> int:
        return int(self.db.run(lambda s: s.execute(select(func.coalesce(func.max(Line.id), 0))).scalar_one()))


def add_transcript(s: Session, ticket_id: int, lines: list[dict[str, Any]]) -> None:
    """Attach a conversation's lines to a ticket in the caller's transaction (once: a second
    attach keeps the first), masked: every staff view shows them masked, so the numbers are not
    kept there at all."""
    if lines and s.get(TicketTranscript, ticket_id) is None:
        masked = [{**line, "text": mask_personal(str(line.get("text", "")))} for line in lines]
        s.add(TicketTranscript(ticket_id=ticket_id, lines=masked))


def ticket_transcript(session: Session, ticket_id: int) -> list[dict[str, Any]] | None:
    """A ticket's attached transcript, masked for staff who need no numbers (core/privacy.py)."""
    row = session.get(TicketTranscript, ticket_id)
    if row is None:
        return None
    return [{**line, "text": mask_personal(str(line.get("text", "")))} for line in row.lines]
