"""Ticket databases for tests: a fresh SQLite file, or a fresh PostgreSQL schema (dropped afterwards).

PostgreSQL: 127.0.0.1:5432, database `test`, user `postgres` or `root` (trust auth). Each
test gets its own schema through `search_path`, so reruns and parallel runs never collide.
When no server answers, PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pytest

from core.clock import ManualClock

PG_HOST, PG_PORT, PG_DB, PG_USERS = "127.0.0.1", 5432, "test", ("postgres", "root")


@cache
def pg_base_url() -> str | None:
    """postgresql+psycopg URL of the reachable test server, or None (reason in pg_problem)."""
    import psycopg

    for user in PG_USERS:
        try:
            with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, connect_timeout=3):
                return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}"
        except psycopg.Error as exc:
            _problems.append(f"{user}: {str(exc).strip()[:120]}")
    return None


_problems: list[str] = []


@contextmanager
def pg_schema_url(base: str | None = None) -> Iterator[str]:
    """A URL whose connections use a new, empty schema; the schema is dropped afterwards.

    `base` names the server (benchmarks pass their --pg-url); tests use the reachable one."""
    base = base or pg_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}/{PG_DB}: {'; '.join(_problems)}")
    import psycopg

    schema = f"govbot_test_{uuid.uuid4().hex[:12]}"
    conninfo = base.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _schema_of(url: str) -> str | None:
    """The schema a URL made by pg_schema_url works in."""
    marker = quote("-csearch_path=")
    return url.split(marker, 1)[1] if marker in url else None


@contextmanager
def pg_schema_clone(url: str) -> Iterator[str]:
    """A new schema holding a copy of the tables (rows included) of the schema `url` works in,
    dropped afterwards: a private copy of a prepared database, like a copied SQLite file."""
    source = _schema_of(url)
    assert source, f"not a URL with its own schema: {url}"
    import psycopg

    with pg_schema_url() as clone:
        target = _schema_of(clone)
        conninfo = url.split("?", 1)[0].replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                (source,),
            ).fetchall()
            for (table,) in tables:
                conn.execute(f'CREATE TABLE "{target}"."{table}" (LIKE "{source}"."{table}" INCLUDING ALL)')
                conn.execute(f'INSERT INTO "{target}"."{table}" SELECT * FROM "{source}"."{table}"')
        yield clone


_DATA_DIR_URLS: dict[Path, str] = {}
_SESSION_CLONES = ExitStack()  # closed by the session fixture in tests/conftest.py


def database_of(data_dir: Path) -> str:
    """The database a test data directory uses: its own schema when it is a copy made on
    PostgreSQL (copy_data_dir), else DATABASE_URL ("" : SQLite in the directory)."""
    return _DATA_DIR_URLS.get(Path(data_dir).resolve(), os.environ.get("DATABASE_URL", ""))


def copy_data_dir(source: Path, target: Path) -> str:
    """A private copy of a prepared data directory. On SQLite its tickets.sqlite (which holds
    the knowledge base too) is copied with it; on PostgreSQL the source's schema is cloned for it
    (kept until the session ends). Returns the copy's database URL ("" on SQLite)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("sessions.sqlite*"))
    url = database_of(source)
    if not url.startswith("postgresql"):
        return ""
    clone = _SESSION_CLONES.enter_context(pg_schema_clone(url))
    _DATA_DIR_URLS[Path(target).resolve()] = clone
    return clone


def drop_clones() -> None:
    _SESSION_CLONES.close()
    _DATA_DIR_URLS.clear()


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'tickets-{uuid.uuid4().hex[:6]}.sqlite'}"
    else:
        with pg_schema_url() as url:
            yield url


BACKENDS = ("sqlite", "postgresql")


FakeClock = ManualClock  # the suite's name for core.clock.ManualClock


Factory = Callable[..., object]
