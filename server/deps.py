"""Typed dependencies: an endpoint's signature says what it needs (from `app.state`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core import permissions
from core.settings import Settings
from server.auth import Principal, TokenTable
from server.service import AssistantService
from tickets.service import TicketDesk


def _service(request: Request) -> AssistantService:
    service: AssistantService = request.app.state.service
    return service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _desk(request: Request) -> TicketDesk:
    desk: TicketDesk = request.app.state.desk
    return desk


Service = Annotated[AssistantService, Depends(_service)]
Desk = Annotated[TicketDesk, Depends(_desk)]
AppSettings = Annotated[Settings, Depends(_settings)]

_bearer = HTTPBearer(auto_error=False)


def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """A GOVBOT_API_TOKENS token, or a token issued by /api/v1/auth/login."""
    tokens: TokenTable = request.app.state.tokens
    principal = tokens.lookup(credentials.credentials) if credentials else None
    if principal is None and credentials and credentials.credentials:
        if len(credentials.credentials) > 200 or not credentials.credentials.isascii():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "malformed token", {"WWW-Authenticate": "Bearer"}
            )
        account = _desk(request).account(credentials.credentials)
        if account is not None:
            principal = Principal(name=account.name, role=account.role, department=account.department)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


class require:
    """Dependency: the caller's role may do `action` (core/permissions.py), 403 otherwise.
    The action stays readable on the dependency, so a test can walk every route's action."""

    def __init__(self, action: str) -> None:
        permissions.scope("admin", action)  # an unknown action fails at import, not at request
        self.action = action

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        if permissions.scope(principal.role, self.action) is None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {principal.role} may not do {self.action}")
        return principal


# One alias per action of core.permissions.MATRIX: an endpoint's signature names what it does.
CanCreateTicket = Annotated[Principal, Depends(require("ticket.create"))]
CanUpdateTicket = Annotated[Principal, Depends(require("ticket.update"))]
CanReadTicket = Annotated[Principal, Depends(require("ticket.read"))]
CanListTickets = Annotated[Principal, Depends(require("ticket.list"))]
CanMoveTicket = Annotated[Principal, Depends(require("ticket.transition"))]
CanPromote = Annotated[Principal, Depends(require("ticket.promote"))]
CanNote = Annotated[Principal, Depends(require("ticket.note"))]
CanAssign = Annotated[Principal, Depends(require("ticket.assign"))]
CanManageUsers = Annotated[Principal, Depends(require("user.manage"))]
CanManageKB = Annotated[Principal, Depends(require("kb.manage"))]
CanReadAudit = Annotated[Principal, Depends(require("audit.read"))]
CanSuggest = Annotated[Principal, Depends(require("agent.suggest"))]
CanDraft = Annotated[Principal, Depends(require("console.draft"))]
CanWorkHandoff = Annotated[Principal, Depends(require("handoff.work"))]
CanSeeConsole = Annotated[Principal, Depends(require("console.meta"))]
CanReadReports = Annotated[Principal, Depends(require("report.read"))]
CanReadSettings = Annotated[Principal, Depends(require("settings.read"))]
Staff = Annotated[Principal, Depends(require("account.self"))]
