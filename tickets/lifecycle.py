"""The enforced ticket state machine.

待受理 → 已受理 → 已交办 → 处理中 → 已反馈 → 已办结 → 已回访, plus 退回 (the handling department
returns a dispatched ticket for re-dispatch), 重新交办 (dispatch to another department) and
合并 (a duplicate of another open ticket: 已合并, terminal). Every step writes an audit entry.

Who may do what: the 12345 centre (agent, supervisor, admin) accepts, dispatches, closes,
calls back and merges; the handling department's handlers start, return and give feedback.
Supervisors and admins may do every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.vocab import (
    CENTRE,
    HANDLER,
    OPEN,
    OVERSEER_ROLES,
    SATISFACTION,
    STATES,
    STEP_ROLES,
    TRANSITIONS,
    Step,
)
from tickets.errors import IllegalTransitionError, PermissionDeniedError, TicketNotFoundError
from tickets.models import AuditEntry, Ticket


class Viewer(Protocol):
    """Who acts: server.auth.Principal fits (name, role, department)."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def department(self) -> str | None: ...


def allowed_from(state: str) -> list[str]:
    return [to for (frm, to) in TRANSITIONS if frm == state]


@dataclass(frozen=True)
class TransitionRequest:
    to: str
    department: str | None = None
    note: str | None = None
    satisfaction: str | None = None
    callback_result: str | None = None
    merged_into: str | None = None
    context: dict[str, str] | None = None  # recorded in the audit entry (e.g. the platform's event id)


def is_assigned_handler(viewer: Viewer, ticket: Ticket) -> bool:
    return viewer.role == "handler" and bool(viewer.department) and viewer.department == ticket.department


def can_see(viewer: Viewer, ticket: Ticket) -> bool:
    """Handlers see their own department's tickets; the centre sees all."""
    return viewer.role != "handler" or is_assigned_handler(viewer, ticket)


def _check_actor(viewer: Viewer, ticket: Ticket, step: Step) -> None:
    if viewer.role in OVERSEER_ROLES:
        return
    if step.by == CENTRE and viewer.role not in STEP_ROLES[CENTRE]:
        raise PermissionDeniedError(f"{step.action} is done by the 12345 centre (agent), not a {viewer.role}")
    if step.by == HANDLER and not is_assigned_handler(viewer, ticket):
        raise PermissionDeniedError(
            f"{step.action} is done by a handler of {ticket.department or 'the department'}"
        )


def transition(
    *, session: Session, ticket: Ticket, request: TransitionRequest, viewer: Viewer, now: datetime
) -> Ticket:
    """Move `ticket` to `request.to`, or raise IllegalTransitionError / PermissionDeniedError."""
    current, target = ticket.status, request.to
    if target not in STATES:
        raise IllegalTransitionError(current, target, allowed_from(current), f"unknown state {target!r}")
    step = TRANSITIONS.get((current, target))
    if step is None:
        raise IllegalTransitionError(current, target, allowed_from(current))
    _check_actor(viewer, ticket, step)
    changes: dict[str, Any] = {"status": [current, target]}

    def fail(reason: str) -> IllegalTransitionError:
        return IllegalTransitionError(current, target, allowed_from(current), reason)

    if step.action in ("dispatch", "redispatch"):
        department = request.department or (ticket.department if step.action == "dispatch" else None)
        if not department:
            raise fail(f"{step.action} needs a department")
        if step.action == "redispatch" and department == ticket.department:
            raise fail("重新交办 needs a different department")
        if department != ticket.department:
            changes["department"] = [ticket.department, department]
        ticket.department = department
        ticket.assignee = None
    elif step.action == "accept" and ticket.assignee is None:  # the agent who accepts has it
        changes["assignee"] = [None, viewer.name]
        ticket.assignee = viewer.name
    elif step.action == "start":
        changes["assignee"] = [ticket.assignee, viewer.name]
        ticket.assignee = viewer.name
    elif step.action == "return":
        if not request.note:
            raise fail("退回 needs a note saying why")
        ticket.assignee = None
    elif step.action == "feedback":
        if not request.note:
            raise fail("反馈 needs a note with the result")
        ticket.feedback_at = now
    elif step.action == "complete":
        ticket.completed_at = now
    elif step.action == "callback":
        if request.satisfaction not in SATISFACTION:
            raise fail(f"回访 needs satisfaction, one of {'、'.join(SATISFACTION)}")
        ticket.satisfaction = request.satisfaction
        ticket.callback_result = request.callback_result or request.note
        changes["satisfaction"] = request.satisfaction
    elif step.action == "merge":
        into = _merge_target(session=session, ticket=ticket, target_no=request.merged_into, fail=fail)
        ticket.merged_into_id = into.id
        changes["merged_into"] = into.ticket_no
    ticket.status = target
    ticket.at_risk = ticket.overdue = False  # the sweeper judges the new state afresh
    if request.note:
        changes["note"] = request.note
    changes.update(request.context or {})
    session.add(
        AuditEntry(ticket_id=ticket.id, actor=viewer.name, at=now, action=step.action, changes=changes)
    )
    session.flush()
    return ticket


def _merge_target(*, session: Session, ticket: Ticket, target_no: str | None, fail: Any) -> Ticket:
    if not target_no:
        raise fail("合并 needs merged_into: the number of the open ticket this one duplicates")
    if target_no == ticket.ticket_no:
        raise fail("a ticket cannot be merged into itself")
    into = session.scalar(select(Ticket).where(Ticket.ticket_no == target_no))
    if into is None:
        raise TicketNotFoundError(target_no)
    if into.status not in OPEN:
        raise fail(f"{target_no} is {into.status}, not open")
    return into
