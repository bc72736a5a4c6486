"""Typed dependencies: an endpoint's signature says what it needs (from `app.state`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


def require_role(role: str) -> Callable[[Principal], Principal]:
    """Dependency: the caller must hold `role` or a more trusted one (403 otherwise)."""

    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.allows(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        return principal

    return check


Agent = Annotated[Principal, Depends(require_role("agent"))]
Handler = Annotated[Principal, Depends(require_role("handler"))]
Supervisor = Annotated[Principal, Depends(require_role("supervisor"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
