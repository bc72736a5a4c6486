"""Actors and walks through the lifecycle shared by the ticket tests."""

from __future__ import annotations

from core.vocab import ACCEPTED, CALLED_BACK, COMPLETED, DISPATCHED, FEEDBACK, IN_PROGRESS, PENDING
from tickets.lifecycle import TransitionRequest
from tickets.service import TicketDesk
from tickets.users import Account

DEPT = "市住房城乡建设局"
AGENT = Account("agent-1", "agent", None)
HANDLER = Account("handler-1", "handler", DEPT)
OTHER_HANDLER = Account("handler-2", "handler", "市生态环境局")
SUPERVISOR = Account("boss", "supervisor", None)

# The steps that bring a new ticket to each state, with who takes them.
PATH: list[tuple[str, TransitionRequest, Account]] = [
    (ACCEPTED, TransitionRequest(to=ACCEPTED), AGENT),
    (DISPATCHED, TransitionRequest(to=DISPATCHED, department=DEPT), AGENT),
    (IN_PROGRESS, TransitionRequest(to=IN_PROGRESS), HANDLER),
    (FEEDBACK, TransitionRequest(to=FEEDBACK, note="已修复路灯"), HANDLER),
    (COMPLETED, TransitionRequest(to=COMPLETED), AGENT),
    (CALLED_BACK, TransitionRequest(to=CALLED_BACK, satisfaction="满意", callback_result="市民满意"), AGENT),
]
ORDER = [PENDING, *(state for state, _, _ in PATH)]


def walk_to(desk: TicketDesk, ticket_no: str, state: str) -> None:
    """Move a new ticket along the main path until it is in `state`."""
    for target, request, actor in PATH[: ORDER.index(state)]:
        assert desk.transition(ticket_no, request, viewer=actor).status == target
