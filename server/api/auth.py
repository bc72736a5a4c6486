"""Staff log-in and log-out: a username and password (argon2) for a bearer token with an expiry.

Password checks run on the desk's own small pool (`TicketDesk.password_pool`), never on the
request threadpool, so a burst of bad log-ins cannot slow the citizens' requests down.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.deps import Desk, Staff
from tickets.schemas import LoginIn, TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
_bearer = HTTPBearer(auto_error=False)


@router.post("/login", response_model=TokenOut)
async def login(credentials: LoginIn, desk: Desk) -> TokenOut:
    """Exchange a username and password for a token (401 for either being wrong; 429 while the
    account is locked after repeated failures)."""
    loop = asyncio.get_running_loop()
    token, expires, account = await loop.run_in_executor(
        desk.password_pool, desk.login, credentials.username, credentials.password
    )
    return TokenOut(access_token=token, expires_at=expires, role=account.role, department=account.department)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request,
    principal: Staff,
    desk: Desk,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Revoke the token this request carries (a login token; configured API tokens stay), and
    stop counting its holder as a live agent: a citizen asking for a person next is told the
    truth at once, not after the presence window runs out."""
    if credentials is not None:
        desk.logout(credentials.credentials)
    request.app.state.live.store.leave(principal.name)


@router.get("/me")
def me(principal: Staff) -> dict[str, str | None]:
    """Who the token belongs to."""
    return {"name": principal.name, "role": principal.role, "department": principal.department}
