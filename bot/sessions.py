"""Session context, so that 需要什么材料？ after an answer refers to the same item.

Stored in SQLite under the data directory; the server issue adds a Redis
implementation of the same interface for several workers.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from pydantic import BaseModel, Field

from bot.messages import Option


class SessionState(BaseModel):
    last_item_id: str | None = None
    last_action: str | None = None
    options: list[Option] = Field(default_factory=list)
    turns: int = 0
    updated_at: float = 0.0


class SqliteSessionStore:
    def __init__(self, path: Path, ttl_minutes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
            "updated_at REAL NOT NULL)"
        )
        self.ttl_seconds = ttl_minutes * 60

    def get(self, session_id: str) -> SessionState:
        row = self._conn.execute(
            "SELECT state, updated_at FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None or time.time() - row[1] > self.ttl_seconds:
            return SessionState()
        return SessionState.model_validate(json.loads(row[0]))

    def put(self, session_id: str, state: SessionState) -> None:
        state.updated_at = time.time()
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO sessions (id, state, updated_at) VALUES (?, ?, ?)",
                (session_id, state.model_dump_json(), state.updated_at),
            )

    def close(self) -> None:
        self._conn.close()
