"""The ticket database: engine (PostgreSQL from DATABASE_URL, else SQLite in WAL mode),
sessions, Alembic migrations run programmatically, and retrying writers.

SQLite: every transaction starts with BEGIN IMMEDIATE, so two writers queue on the busy
timeout instead of failing when a reader upgrades to a writer; what still reports
`database is locked` is retried by `TicketDB.run`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_MS = 10_000


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "deadlock" in text or "busy" in text)


def _audit_is_append_only(session: Session, _context: Any, _instances: Any) -> None:
    from tickets.models import AuditEntry

    if any(isinstance(obj, AuditEntry) for obj in (*session.dirty, *session.deleted)):
        raise AuditTrailError("audit entries are append-only: they are never changed or deleted")


class AuditTrailError(RuntimeError):
    """Something tried to change or delete an audit entry."""


class TicketDB:
    """An engine and its session factory; `run` does one unit of work (read or write) with retries."""

    def __init__(self, url: str, *, retries: int = 8) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", _audit_is_append_only)
        self.retries = retries

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def run(self, job: Callable[[Session], T], *, retry_integrity: bool = False) -> T:
        """Run `job(session)` in one transaction; retry on lock errors (and, when asked, on
        unique violations such as a lost race for a new counter row)."""
        for attempt in range(self.retries + 1):
            try:
                with self.sessions.begin() as session:
                    return job(session)
            except (OperationalError, IntegrityError) as exc:
                again = _retryable(exc) or (retry_integrity and isinstance(exc, IntegrityError))
                if not again or attempt == self.retries:
                    raise
                log.info("tickets.db.retry", extra={"attempt": attempt + 1, "error": str(exc)[:120]})
                time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (`upgrade head`)."""
        from alembic import command

        with self.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config
