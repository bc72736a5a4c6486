"""Domain errors of the ticket layer; routes and the CLI translate them, nothing here knows HTTP."""

from __future__ import annotations


class TicketError(Exception):
    """Base class of every ticket-layer error."""


class TicketNotFoundError(TicketError):
    """No such ticket, or the caller may not see it (the two read the same on purpose)."""

    def __init__(self, ticket_no: str) -> None:
        super().__init__(f"no ticket {ticket_no}")
        self.ticket_no = ticket_no


class IllegalTransitionError(TicketError):
    """The state machine does not allow this step; the message names what it does allow."""

    def __init__(self, current: str, target: str, allowed: list[str], reason: str = "") -> None:
        allowed_text = "、".join(allowed) if allowed else "none (terminal state)"
        detail = f": {reason}" if reason else ""
        super().__init__(
            f"cannot move a ticket from {current} to {target}{detail}; allowed from {current}: {allowed_text}"
        )
        self.current = current
        self.target = target
        self.allowed = allowed


class PermissionDeniedError(TicketError):
    """The caller's role or department does not allow this action."""


class InvalidTicketError(TicketError):
    """The ticket data is not acceptable (phone, category, missing department ...)."""


class DuplicateUserError(TicketError):
    """A user with this name exists already."""


class AuthenticationError(TicketError):
    """Unknown user or wrong password (the two read the same on purpose)."""
