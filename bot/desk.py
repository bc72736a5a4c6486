"""What the dialogue needs from the ticket desk, and nothing more.

The bot creates tickets and looks up their status through this protocol; the
`tickets` package implements it on SQL (tickets/chat_gateway.py). Keeping the boundary
here lets the dialogue be tested without a database and the desk without the dialogue.
"""

from __future__ import annotations

from typing import Protocol

from tickets.intake import TicketReceipt, TicketRequest, TicketStatusView


class TicketGateway(Protocol):
    """The ticket desk as the dialogue sees it (tickets/chat_gateway.py implements it on SQL)."""

    def create(self, request: TicketRequest) -> TicketReceipt: ...

    def status(self, ticket_no: str, phone_last4: str) -> TicketStatusView | None: ...

    def rate(self, ticket_no: str, phone_last4: str, score: int) -> bool: ...
