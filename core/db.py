"""The one database (tickets and knowledge base): engine, sessions, retrying units of work,
Alembic migrations run programmatically, and PostgreSQL LISTEN for change notices.

PostgreSQL when DATABASE_URL is set, else SQLite in WAL mode. SQLite: every transaction
starts with BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing when
a reader upgrades to a writer; what still reports `database is locked` is retried by `run`.

Each layer that owns tables (knowledge/, tickets/) keeps its own Alembic history with its own
version table, so the knowledge base migrates without importing the layers above it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.files import ensure_private

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_MS = 10_000


def normalize_url(url: str | Path) -> str:
    """A Path is a SQLite file; postgres:// and postgresql:// use psycopg 3."""
    if isinstance(url, Path):
        return f"sqlite:///{url}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | Path, *, immediate: bool = True) -> Engine:
    """SQLite transactions begin IMMEDIATE (writers queue) unless `immediate` is false: a
    reader's deferred BEGIN reads its WAL snapshot without waiting for a long import."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        ensure_private(Path(path))  # 0600; SQLite gives its -wal and -shm files the same mode
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
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "deadlock" in text or "busy" in text)


class Database:
    """An engine and its session factory; `run` does one unit of work (read or write) with retries."""

    def __init__(self, url: str | Path, *, retries: int = 8) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        # Reads that must not queue behind a writer (answer cards during an import).
        self.read_engine = make_engine(self.url, immediate=False) if self.is_sqlite_url else self.engine
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.retries = retries

    @property
    def is_sqlite_url(self) -> bool:
        return self.url.startswith("sqlite")

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
                log.info("db.retry", extra={"attempt": attempt + 1, "error": str(exc)[:120]})
                time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def migrate(self, script_location: Path, version_table: str) -> None:
        """`upgrade head` of one Alembic history; on PostgreSQL under an advisory lock, so
        machines starting together do not create the same tables twice."""
        from alembic import command

        with self.engine.begin() as connection:
            if not self.is_sqlite:
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock(hashtext('{version_table}'))")
            command.upgrade(alembic_config(script_location, version_table, connection), "head")

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def alembic_config(script_location: Path, version_table: str, connection: Any = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = version_table
    return config


class ChangeListener:
    """Wakes a background loop when another process announces a change.

    PostgreSQL: LISTEN on `channel` (writers call pg_notify inside their transaction, so the
    notice arrives only after the commit). SQLite, or when the connection fails: nothing to
    listen to, and `wait` simply returns after the timeout so the caller polls.
    """

    def __init__(self, db: Database, channel: str) -> None:
        self.db = db
        self.channel = channel
        self._conn: Any = None
        self._stop = threading.Event()

    def _connect(self) -> Any:
        if self.db.is_sqlite or self._conn is not None:
            return self._conn
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql")
        try:
            self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            self._conn.execute(f"LISTEN {self.channel}")
        except psycopg.Error as exc:
            log.warning("db.listen.failed", extra={"error": str(exc)[:200]})
            self._conn = None
        return self._conn

    def wait(self, timeout: float) -> bool:
        """True when a notice came (or the listener was stopped), False after `timeout`."""
        conn = self._connect()
        if conn is None:
            return self._stop.wait(timeout)
        try:
            for _notice in conn.notifies(timeout=timeout, stop_after=1):
                return True
        except Exception as exc:  # connection lost: poll until it can be opened again
            log.warning("db.listen.lost", extra={"error": str(exc)[:200]})
            self.close_connection()
        return self._stop.is_set()

    def stop(self) -> None:
        """Wake `wait` now (on PostgreSQL by a notice of our own; others just re-check)."""
        self._stop.set()
        if self._conn is not None:
            with self.db.engine.begin() as connection:
                connection.exec_driver_sql(f"SELECT pg_notify('{self.channel}', 'stop')")

    def close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
