"""Staff accounts (argon2 password hashes) and the login tokens issued to them.

A login token is random; only its SHA-256 is stored, with an expiry.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.vocab import ROLES
from tickets.errors import (
    AuthenticationError,
    DuplicateUserError,
    InvalidTicketError,
    PermissionDeniedError,
    TicketNotFoundError,
)
from tickets.models import LoginToken, User

_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class Account:
    """Who a login token belongs to (fits the Viewer protocol and server.auth.Principal)."""

    name: str
    role: str
    department: str | None


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def create_user(
    *, session: Session, username: str, password: str, role: str, department: str | None, now: datetime
) -> User:
    if role not in ROLES:
        raise InvalidTicketError(f"role must be one of {', '.join(ROLES)}")
    if role == "handler" and not department:
        raise InvalidTicketError("a handler needs a department")
    if len(password) < 8:
        raise InvalidTicketError("the password needs at least 8 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise DuplicateUserError(f"user {username!r} exists already")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        department=department,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str) -> User:
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError

    global _DUMMY_HASH
    hasher = PasswordHasher()
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hasher.hash("not-a-real-password")
        # the same work as for a real user: timing says nothing about which names exist
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        raise AuthenticationError("unknown user or wrong password")
    try:
        hasher.verify(user.password_hash, password)
    except VerificationError:
        raise AuthenticationError("unknown user or wrong password") from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, session: Session, user: User, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    session.execute(delete(LoginToken).where(LoginToken.user_id == user.id, LoginToken.expires_at < now))
    session.add(LoginToken(token_hash=_digest(token), user_id=user.id, expires_at=expires))
    return token, expires


def account_for_token(*, session: Session, token: str, now: datetime) -> Account | None:
    row = session.execute(
        select(User.username, User.role, User.department)
        .join(LoginToken, LoginToken.user_id == User.id)
        .where(LoginToken.token_hash == _digest(token), LoginToken.expires_at > now, User.active.is_(True))
    ).first()
    return Account(name=row.username, role=row.role, department=row.department) if row else None


def revoke_token(*, session: Session, token: str) -> bool:
    """Delete one login token (logout); true when it existed."""
    result = session.execute(delete(LoginToken).where(LoginToken.token_hash == _digest(token)))
    return bool(getattr(result, "rowcount", 0))


def disable_user(*, session: Session, username: str) -> int:
    """Deactivate an account and delete its tokens at once; the number of tokens revoked."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise TicketNotFoundError(f"no user {username!r}")
    user.active = False
    result = session.execute(delete(LoginToken).where(LoginToken.user_id == user.id))
    return int(getattr(result, "rowcount", 0))


def check_may_manage(manager_role: str, *roles: str | None) -> None:
    """Only an admin creates, changes or grants an admin account (a supervisor manages the rest)."""
    if manager_role != "admin" and "admin" in roles:
        raise PermissionDeniedError("only an admin manages admin accounts")


def user_role(*, session: Session, username: str) -> str:
    role = session.scalar(select(User.role).where(User.username == username))
    if role is None:
        raise TicketNotFoundError(f"no user {username!r}")
    return role


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.username)))


def change_user(
    *,
    session: Session,
    username: str,
    role: str | None = None,
    department: str | None = None,
    clear_department: bool = False,
    active: bool | None = None,
    password: str | None = None,
) -> dict[str, object]:
    """Apply the given changes to an account; what changed (the password only as 'reset').
    Disabling or a new password revokes the account's tokens."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise TicketNotFoundError(f"no user {username!r}")
    changed: dict[str, object] = {}
    if role is not None and role != user.role:
        if role not in ROLES:
            raise InvalidTicketError(f"role must be one of {', '.join(ROLES)}")
        changed["role"] = [user.role, role]
        user.role = role
    new_department = None if clear_department else department
    if (clear_department or department is not None) and new_department != user.department:
        changed["department"] = [user.department, new_department]
        user.department = new_department
    if user.role == "handler" and not user.department:
        raise InvalidTicketError("a handler needs a department")
    if password is not None:
        if len(password) < 8:
            raise InvalidTicketError("the password needs at least 8 characters")
        user.password_hash = hash_password(password)
        changed["password"] = "reset"
    if active is not None and active != user.active:
        changed["active"] = [user.active, active]
        user.active = active
    if password is not None or active is False:
        session.execute(delete(LoginToken).where(LoginToken.user_id == user.id))
    return changed
