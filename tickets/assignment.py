"""Who works a ticket (`assignee`): set by 开始处理, by 受理 when nobody has it, or by hand.

A ticket goes to someone who may act on it: a handler of the ticket's department, or a
member of the 12345 centre (agent, supervisor, admin). A handler assigns only within their
own department (they cannot see other tickets) and only to a handler of it. Finished tickets
(已回访, 已合并) keep whoever had them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.vocab import CENTRE, OVERSEER_ROLES, STEP_ROLES, TERMINAL
from tickets.crud import get_ticket
from tickets.errors import InvalidTicketError, PermissionDeniedError
from tickets.lifecycle import Viewer
from tickets.models import AuditEntry, Ticket, User

CENTRE_ROLES = (*STEP_ROLES[CENTRE], *OVERSEER_ROLES)


def assign_ticket(
    *, session: Session, ticket_no: str, assignee: str | None, viewer: Viewer, now: datetime
) -> Ticket:
    """Give the ticket to `assignee` (None: to nobody); audited as `assign`."""
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer, for_update=True)
    if ticket.status in TERMINAL:
        raise InvalidTicketError(f"a ticket in {ticket.status} is finished; it is no longer assigned")
    if assignee is not None:
        user = session.scalar(select(User).where(User.username == assignee, User.active.is_(True)))
        if user is None:
            raise InvalidTicketError(f"no active account {assignee!r}")
        of_department = user.role == "handler" and user.department == ticket.department
        if viewer.role == "handler" and not of_department:
            raise PermissionDeniedError("a handler assigns only to handlers of the ticket's department")
        if not of_department and user.role not in CENTRE_ROLES:
            raise InvalidTicketError(
                f"{assignee} is a handler of {user.department}, not of {ticket.department}"
            )
    if ticket.assignee != assignee:
        changes = {"assignee": [ticket.assignee, assignee]}
        ticket.assignee = assignee
        session.add(
            AuditEntry(ticket_id=ticket.id, actor=viewer.name, at=now, action="assign", changes=changes)
        )
    return ticket


def assignable(*, session: Session, ticket_no: str, viewer: Viewer) -> list[tuple[str, str, str | None]]:
    """(username, role, department) of the active accounts this viewer may give the ticket to."""
    ticket = get_ticket(session=session, ticket_no=ticket_no, viewer=viewer)
    query = select(User.username, User.role, User.department).where(User.active.is_(True))
    rows = session.execute(query.order_by(User.role, User.username)).all()
    out = []
    for name, role, department in rows:
        of_department = role == "handler" and department == ticket.department
        if of_department or (viewer.role != "handler" and role in CENTRE_ROLES):
            out.append((name, role, department))
    return out
