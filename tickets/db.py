"""The ticket database: the shared engine and sessions of core.db, the audit trail's guard,
and the tickets' Alembic history (tickets/migrations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"  # the tickets history kept Alembic's default name


def _audit_is_append_only(session: Session, _context: Any, _instances: Any) -> None:
    from tickets.models import AuditEntry

    if any(isinstance(obj, AuditEntry) for obj in (*session.dirty, *session.deleted)):
        raise AuditTrailError("audit entries are append-only: they are never changed or deleted")


class AuditTrailError(RuntimeError):
    """Something tried to change or delete an audit entry."""


class TicketDB(Database):
    """The shared database (core.db) with the audit-trail guard and the tickets' migrations."""

    def __init__(self, url: str, *, retries: int = 8) -> None:
        super().__init__(url, retries=retries)
        event.listen(self.sessions, "before_flush", _audit_is_append_only)

    def migrate(self, script_location: Path = MIGRATIONS, version_table: str = VERSION_TABLE) -> None:
        """Bring the tickets' schema to the newest Alembic revision (`upgrade head`)."""
        super().migrate(script_location, version_table)
