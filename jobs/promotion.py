"""Close the loop: a supervisor turns a closed ticket's official reply into a reviewed FAQ,
which is stored in the knowledge base and indexed at once (only the new item is embedded).

Used by the API (inside the service lock, so no question is answered from a half-built index)
and by `govbot tickets promote-faq`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy.orm import Session

from bot.assistant import Assistant
from core.privacy import mask_personal
from index.builder import BuildReport
from knowledge.models import FAQ
from tickets.crud import get_ticket
from tickets.lifecycle import Viewer
from tickets.models import AuditEntry
from tickets.promotion import PromotionSource, promotion_source
from tickets.service import TicketDesk

log = logging.getLogger(__name__)


class PromotionResult(BaseModel):
    item_id: str
    question: str
    answer: str
    source: str
    reviewed_by: str
    reviewed_at: datetime
    embedded: int
    index_total: int


def faq_id(ticket_no: str) -> str:
    """One FAQ per ticket: promoting again replaces (edits) it."""
    return f"faq-12345-{ticket_no}"


def build_faq(
    *,
    source: PromotionSource,
    reviewer: str,
    now: datetime,
    zone: ZoneInfo,
    question: str | None = None,
    answer: str | None = None,
) -> FAQ:
    """The FAQ for `source`; mobile and ID numbers are masked in what the supervisor did not type."""
    return FAQ(
        id=faq_id(source.ticket_no),
        source=f"12345工单 {source.ticket_no}",
        updated=now.astimezone(zone).date(),
        question=(question or mask_personal(source.title)).strip(),
        answer=(answer or mask_personal(source.reply)).strip(),
        themes=[source.category.split("/")[0]] if source.category else [],
        reviewed_by=reviewer,
        reviewed_at=now,
    )


def promote_ticket(
    *,
    desk: TicketDesk,
    assistant: Assistant,
    ticket_no: str,
    viewer: Viewer,
    question: str | None = None,
    answer: str | None = None,
) -> PromotionResult:
    """Store and index the FAQ, note it in the ticket's audit trail, and reload the index."""
    from jobs.operations import build_kb_index

    with desk.db.session() as session:
        source = promotion_source(session=session, ticket_no=ticket_no, viewer=viewer)
    now = desk.clock()
    faq = build_faq(
        source=source,
        reviewer=viewer.name,
        now=now,
        zone=desk.policy.calendar.zone,
        question=question,
        answer=answer,
    )
    assistant.kb.upsert_many([faq])
    report: BuildReport = build_kb_index(assistant.settings, assistant.resources)
    assistant.reload_index()
    desk.db.run(lambda s: _audit(s, source.ticket_no, viewer, faq.id, now))
    log.info("tickets.faq.promoted", extra={"ticket_no": ticket_no, "item_id": faq.id})
    return PromotionResult(
        item_id=faq.id,
        question=faq.question,
        answer=faq.answer,
        source=faq.source,
        reviewed_by=viewer.name,
        reviewed_at=now,
        embedded=report.embedded,
        index_total=report.total,
    )


def _audit(session: Session, ticket_no: str, viewer: Viewer, item_id: str, now: datetime) -> None:
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer)
    changes = {"faq": item_id}
    session.add(
        AuditEntry(ticket_id=ticket.id, actor=viewer.name, at=now, action="promote_faq", changes=changes)
    )
