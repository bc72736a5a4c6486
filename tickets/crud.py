"""Keyword-only data functions over a session: create, read, list, update, transition tickets.

They raise domain errors (tickets.errors), never HTTP ones; callers own the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, cast

from rapidfuzz import fuzz
from sqlalchemy import Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import crypto
from core.privacy import mask_personal
from core.vocab import ACCEPTED, CALLED_BACK, COMPLETED, DISPATCHED, IN_PROGRESS, OPEN, PENDING, QUEUES
from tickets.errors import InvalidTicketError, PermissionDeniedError, TicketNotFoundError
from tickets.lifecycle import TransitionRequest, Viewer, can_see, transition
from tickets.models import WORD_COLUMNS, AuditEntry, Ticket, TicketCounter, TicketWords
from tickets.routing import Router, Taxonomy, split_category
from tickets.schemas import TicketCreate, TicketSearch, TicketUpdate
from tickets.sla import SlaPolicy, set_deadlines


def next_ticket_no(*, session: Session, day: str) -> str:
    """'20261123-0042': a per-day counter row incremented atomically in the caller's transaction."""
    bump = (
        update(TicketCounter)
        .where(TicketCounter.day == day)
        .values(last=TicketCounter.last + 1)
        .returning(TicketCounter.last)
    )
    number = session.execute(bump).scalar_one_or_none()
    if number is None:
        try:
            with session.begin_nested():
                session.add(TicketCounter(day=day, last=1))
            number = 1
        except IntegrityError:  # another writer created today's row first
            number = session.execute(bump).scalar_one()
    return f"{day}-{number:04d}"


def create_ticket(
    *,
    session: Session,
    data: TicketCreate,
    actor: str,
    policy: SlaPolicy,
    router: Router,
    taxonomy: Taxonomy,
    now: datetime,
    predicted_category: str | None = None,
    duplicate_window: timedelta | None = None,
    duplicate_min_score: int = 80,
) -> Ticket:
    category_text = data.category or predicted_category
    levels: tuple[str | None, str | None, str | None] = (None, None, None)
    if category_text:
        level1, level2, level3 = split_category(category_text)
        taxonomy.check(level1, level2, level3)
        levels = (level1, level2, level3)
    keyword = policy.urgent_keyword(f"{data.title} {data.content}")
    urgent = data.urgent or keyword is not None
    reason = data.urgent_reason or (
        f"关键词：{keyword}" if keyword else "坐席标记紧急" if data.urgent else None
    )
    local_day = now.astimezone(policy.calendar.zone).strftime("%Y%m%d")
    ticket = Ticket(
        ticket_no=next_ticket_no(session=session, day=local_day),
        channel=data.channel,
        created_by=actor,
        citizen_name=data.name,
        phone=data.phone,
        title=data.title,
        content=data.content,
        location=data.location,
        type=data.type,
        category1=levels[0],
        category2=levels[1],
        category3=levels[2],
        department=data.department or (router.department_for(levels[0]) if levels[0] else None),
        urgency="urgent" if urgent else "normal",
        urgent_reason=reason,
        received_at=now,
        status=PENDING,
        escalation_level=0,
        supervision_count=0,
        at_risk=False,
        overdue=False,
        created_at=now,
        updated_at=now,
    )
    set_deadlines(ticket, policy, urgent=urgent)
    if duplicate_window is not None:
        original = find_duplicate(
            session=session, ticket=ticket, since=now - duplicate_window, min_score=duplicate_min_score
        )
        ticket.duplicate_of_id = original.id if original else None
    session.add(ticket)
    session.flush()
    changes: dict[str, Any] = {
        "status": [None, PENDING],
        "category": "/".join(c for c in levels if c) or None,
        "department": ticket.department,
        "urgency": ticket.urgency,
    }
    if data.category is None and predicted_category:
        changes["category_predicted"] = True
    if ticket.duplicate_of_id:
        changes["duplicate_suggestion"] = ticket.duplicate_of_id
    session.add(AuditEntry(ticket_id=ticket.id, actor=actor, at=now, action="create", changes=changes))
    return ticket


def find_duplicate(*, session: Session, ticket: Ticket, since: datetime, min_score: int) -> Ticket | None:
    """An open ticket on the same place and matter received since `since` (a suggestion only)."""
    if not ticket.location:
        return None
    candidates = session.scalars(
        select(Ticket)
        .where(Ticket.status.in_(OPEN), Ticket.received_at >= since, Ticket.location.is_not(None))
        .order_by(Ticket.received_at.desc())
        .limit(500)
    )
    best, best_score = None, 0.0
    for other in candidates:
        place = fuzz.ratio(_squeeze(ticket.location), _squeeze(other.location or ""))
        if place < min_score:
            continue
        matter = fuzz.partial_ratio(f"{ticket.title}", f"{other.title} {other.content}")
        score = min(place, matter)
        if ticket.category1 and other.category1 and ticket.category1 != other.category1:
            continue
        if score >= min_score and score > best_score:
            best, best_score = other, score
    return best


def _squeeze(text: str) -> str:
    return re.sub(r"[\s，,。.、·\-]", "", text)


def get_ticket(*, session: Session, ticket_no: str, viewer: Viewer, for_update: bool = False) -> Ticket:
    """The ticket, if the viewer may see it (otherwise the same error as for an unknown number)."""
    query = select(Ticket).where(Ticket.ticket_no == ticket_no)
    if for_update:
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is None or not can_see(viewer, ticket):
        raise TicketNotFoundError(ticket_no)
    return ticket


def ticket_numbers(*, session: Session, ids: set[int]) -> dict[int, str]:
    ids.discard(0)
    if not ids:
        return {}
    rows = session.execute(select(Ticket.id, Ticket.ticket_no).where(Ticket.id.in_(ids)))
    return {row.id: row.ticket_no for row in rows}


def _queue_filter(query: Select[tuple[Ticket]], viewer: Viewer, queue: str) -> Select[tuple[Ticket]]:
    """Restrict `query` to a queue (a view of the desk) as `viewer` sees it."""
    if queue not in QUEUES:
        raise InvalidTicketError(f"unknown queue {queue!r}; one of {', '.join(QUEUES)}")
    if viewer.role == "handler":
        query = query.where(Ticket.department == (viewer.department or "\x00"))
    if queue == "mine":
        if viewer.role == "handler":
            return query.where(Ticket.assignee == viewer.name, Ticket.status.in_(OPEN))
        mine = or_(Ticket.created_by == viewer.name, Ticket.assignee == viewer.name)
        return query.where(mine, Ticket.status.in_(OPEN))
    if queue == "department":
        if not viewer.department:
            raise PermissionDeniedError("the department queue needs an account with a department")
        return query.where(
            Ticket.department == viewer.department, Ticket.status.in_((DISPATCHED, IN_PROGRESS))
        )
    if queue == "at_risk":
        return query.where(Ticket.at_risk.is_(True), Ticket.status.in_(OPEN))
    if queue == "overdue":
        return query.where(Ticket.overdue.is_(True), Ticket.status.in_(OPEN))
    if queue == "open":
        return query.where(Ticket.status.in_(OPEN))
    if queue == "awaiting_callback":  # 办结 given, 回访 still to make
        return query.where(Ticket.status == COMPLETED)
    if queue == "closed":
        return query.where(Ticket.status.in_((COMPLETED, CALLED_BACK)))
    return query


def list_tickets(
    *, session: Session, viewer: Viewer, queue: str = "open", limit: int = 100, offset: int = 0
) -> list[Ticket]:
    """mine (created by me or assigned to me), department (my department's work), at_risk, overdue, open,
    awaiting_callback (已办结, 回访 to make), closed (已办结 and 已回访), all."""
    query = _queue_filter(select(Ticket), viewer, queue)
    newest_first = queue in ("all", "closed", "awaiting_callback")
    order = (Ticket.id.desc(),) if newest_first else (Ticket.feedback_deadline, Ticket.id)
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))


def search_tickets(
    *,
    session: Session,
    viewer: Viewer,
    search: TicketSearch,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Ticket]:
    """The desk's search: every given criterion must hold (newest first, within what `viewer`
    may see). `since`/`until` bound `received_at` (until exclusive)."""
    query = _queue_filter(select(Ticket), viewer, search.queue or "all")
    if re.fullmatch(r"\d{8}-\d{4}", search.ticket_no):
        query = query.where(Ticket.ticket_no == search.ticket_no)  # the unique index
    elif search.ticket_no:
        query = query.where(Ticket.ticket_no.startswith(search.ticket_no, autoescape=True))
    if search.phone:
        if len(search.phone) < 4:
            raise InvalidTicketError("a phone search needs at least the last four digits")
        # the phone is sealed: its last four digits are found through their keyed hash (indexed)
        query = query.where(Ticket.phone_tail.in_(crypto.active().tail_hashes(search.phone)))
    if words := search.words.split():  # the masked copy of title, content and place
        query = _with_words(session, query, words)
    if since is not None:
        query = query.where(Ticket.received_at >= since)
    if until is not None:
        query = query.where(Ticket.received_at < until)
    if search.department:
        query = query.where(Ticket.department == search.department)
    if search.status:
        query = query.where(Ticket.status.in_(search.status))
    # newest first by id (the order tickets came in): a backward walk of the primary key that
    # stops at the page, where ordering by received_at made SQLite visit every row through its index
    query = query.order_by(Ticket.id.desc())
    if len(search.phone) > 4:  # the longer suffix is checked on the opened phones of the few
        same_tail = cast(Iterable[Ticket], session.scalars(query))  # a handful of rows
        rows = (t for t in same_tail if t.phone.endswith(search.phone))
        return list(islice(rows, offset, offset + limit))
    return list(session.scalars(query.limit(limit).offset(offset)))


WORD_MATCHES_LISTED = 1000


def _with_words(session: Session, query: Select[tuple[Ticket]], words: list[str]) -> Select[tuple[Ticket]]:
    """`query` limited to tickets whose masked words hold every one of `words`.

    First the narrow words table alone, newest first, up to WORD_MATCHES_LISTED matches: a
    rare word is one scan of it (not of the wider, sealed ticket rows) and its few ids go into
    the query; a common word stops that walk early and is joined instead, so the walk over the
    tickets, newest first, finds a page of matches after a few rows."""
    found = [TicketWords.text.contains(word, autoescape=True) for word in words]
    ids = session.scalars(
        select(TicketWords.ticket_id)
        .where(*found)
        .order_by(TicketWords.ticket_id.desc())
        .limit(WORD_MATCHES_LISTED + 1)
    ).all()
    if len(ids) <= WORD_MATCHES_LISTED:
        return query.where(Ticket.id.in_(ids))
    return query.join(TicketWords, TicketWords.ticket_id == Ticket.id).where(*found)


def update_ticket(
    *,
    session: Session,
    ticket_no: str,
    data: TicketUpdate,
    viewer: Viewer,
    taxonomy: Taxonomy,
    router: Router,
    policy: SlaPolicy,
    now: datetime,
) -> Ticket:
    """Centre corrections before dispatch (待受理 / 已受理); audited field by field."""
    if viewer.role == "handler":
        raise PermissionDeniedError("handlers cannot edit tickets; return it (退回) instead")
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer, for_update=True)
    if ticket.status not in (PENDING, ACCEPTED):
        raise InvalidTicketError(f"a ticket in {ticket.status} can no longer be edited")
    changes: dict[str, Any] = {}
    given = data.model_dump(exclude_unset=True)
    if given.get("category"):
        level1, level2, level3 = split_category(given.pop("category"))
        taxonomy.check(level1, level2, level3)
        for name, value in (("category1", level1), ("category2", level2), ("category3", level3)):
            if getattr(ticket, name) != value:
                changes[name] = [getattr(ticket, name), value]
                setattr(ticket, name, value)
        ticket.department = router.department_for(level1)
    given.pop("category", None)
    urgent = given.pop("urgent", None)
    if urgent is not None and (ticket.urgency == "urgent") != urgent:
        changes["urgency"] = [ticket.urgency, "urgent" if urgent else "normal"]
        ticket.urgency = "urgent" if urgent else "normal"
        # the deadlines follow the new urgency, still counted from when the ticket came in
        before = ticket.feedback_deadline
        deadlines = set_deadlines(ticket, policy, urgent=urgent)
        changes["feedback_deadline"] = [before.isoformat(), deadlines.feedback.isoformat()]
    for name, value in given.items():
        if getattr(ticket, name) != value:
            changes[name] = [_audited(name, getattr(ticket, name)), _audited(name, value)]
            setattr(ticket, name, value)
    if changes:
        session.add(
            AuditEntry(ticket_id=ticket.id, actor=viewer.name, at=now, action="update", changes=changes)
        )
    return ticket


def _audited(field: str, value: Any) -> Any:
    """A value as the audit trail keeps it: the citizen's own words with personal numbers
    masked, as the trail is stored in clear and shown to every role that sees the ticket."""
    return mask_personal(value) if field in WORD_COLUMNS and isinstance(value, str) else value


def move_ticket(
    *, session: Session, ticket_no: str, request: TransitionRequest, viewer: Viewer, now: datetime
) -> Ticket:
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer, for_update=True)
    return transition(session=session, ticket=ticket, request=request, viewer=viewer, now=now)


def audit_trail(*, session: Session, ticket: Ticket) -> list[AuditEntry]:
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id).order_by(AuditEntry.id))
    )


def status_for_citizen(*, session: Session, ticket_no: str, phone_last4: str) -> Ticket:
    """The ticket when the last four digits match; unknown and mismatched read the same."""
    ticket = session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no))
    if ticket is None or not ticket.phone.endswith(phone_last4):
        raise TicketNotFoundError(ticket_no)
    return ticket


def latest_feedback_note(*, session: Session, ticket: Ticket) -> str | None:
    """The handling department's newest 反馈 note, if any."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket.id, AuditEntry.action == "feedback")
        .order_by(AuditEntry.id.desc())
    )
    notes = (e.changes.get("note") for e in entries if isinstance(e.changes, dict))
    return next((n for n in notes if n), None)


def rate_by_citizen(
    *,
    session: Session,
    ticket_no: str,
    phone_last4: str,
    satisfaction: str,
    score: int,
    via: str,
    now: datetime,
) -> bool:
    """Record the citizen's own grade on a closed, unrated ticket (audited); False otherwise."""
    ticket = status_for_citizen(session=session, ticket_no=ticket_no, phone_last4=phone_last4)
    if ticket.status not in (COMPLETED, CALLED_BACK) or ticket.satisfaction:
        return False
    ticket.satisfaction = satisfaction
    changes = {"satisfaction": satisfaction, "score": score, "via": via}
    session.add(AuditEntry(ticket_id=ticket.id, actor="citizen", at=now, action="rate", changes=changes))
    return True
