"""Staff log-in: a username and password (argon2) for a bearer token with an expiry."""

from __future__ import annotations

from fastapi import APIRouter

from server.deps import CurrentPrincipal, Desk
from tickets.schemas import LoginIn, TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
def login(credentials: LoginIn, desk: Desk) -> TokenOut:
    """Exchange a username and password for a token (401 for either being wrong)."""
    token, expires, account = desk.login(credentials.username, credentials.password)
    return TokenOut(access_token=token, expires_at=expires, role=account.role, department=account.department)


@router.get("/me")
def me(principal: CurrentPrincipal) -> dict[str, str | None]:
    """Who the token belongs to."""
    return {"name": principal.name, "role": principal.role, "department": principal.department}
