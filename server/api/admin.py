"""Staff administration (supervisors and admins): accounts and the staff actions log.

Departments are checked against the routing table (TicketDesk.check_department), roles against
core.vocab; only an admin creates or changes an admin. Every change is logged (who, when, what)
by the desk in the same transaction. Identifiers travel in the body, not the path, so a form
posts what it shows."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from core.vocab import Role
from server.deps import CanManageUsers, CanReadAudit, Desk

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])

USERNAME = r"^[A-Za-z0-9_.\-]{2,64}$"


class UserOut(BaseModel):
    username: str
    role: str
    department: str | None
    active: bool
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=8, max_length=200)
    role: Role
    department: str | None = Field(None, max_length=64)


class UserChange(BaseModel):
    """Only the fields given change; `department: ""` takes the department away."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    username: str = Field(pattern=USERNAME)
    role: Role | None = None
    department: str | None = Field(None, max_length=64)
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=200)


class StaffActionOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


@router.get("/users", response_model=list[UserOut])
def list_users(desk: Desk, _manager: CanManageUsers) -> list[UserOut]:
    """Every account, by role."""
    return [UserOut.model_validate(u, from_attributes=True) for u in desk.users()]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate, desk: Desk, manager: CanManageUsers) -> UserOut:
    """Create an account (409 when the name exists; 422 for an unknown department)."""
    department = data.department or None
    loop = asyncio.get_running_loop()  # argon2: the desk's own pool, as for log-ins
    await loop.run_in_executor(
        desk.password_pool,
        lambda: desk.add_user(
            data.username, data.password, role=data.role, department=department, by=manager
        ),
    )
    return next(
        UserOut.model_validate(u, from_attributes=True) for u in desk.users() if u.username == data.username
    )


@router.post("/users/update", response_model=dict[str, Any])
async def change_user(data: UserChange, desk: Desk, manager: CanManageUsers) -> dict[str, Any]:
    """Change role, department, disable/enable or set a new password; disabling and a new
    password end the account's sessions. Answers what changed (the password as 'reset')."""
    given = data.model_fields_set
    loop = asyncio.get_running_loop()
    changed = await loop.run_in_executor(
        desk.password_pool,
        lambda: desk.change_user(
            data.username,
            by=manager,
            role=data.role,
            department=data.department or None,
            clear_department="department" in given and not data.department,
            active=data.active,
            password=data.password,
        ),
    )
    return {"username": data.username, "changed": changed}


@router.get("/actions", response_model=list[StaffActionOut])
def staff_actions(
    desk: Desk,
    _overseer: CanReadAudit,
    target: str | None = Query(None, max_length=200),
    limit: int = Query(100, ge=1, le=500),
) -> list[StaffActionOut]:
    """The staff actions log, newest first (accounts and knowledge changes)."""
    return [
        StaffActionOut.model_validate(a, from_attributes=True)
        for a in desk.staff_actions(limit=limit, target=target)
    ]
