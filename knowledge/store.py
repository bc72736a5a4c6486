"""The knowledge base on disk: one SQLite file under the data directory.

Imports write all their good records in one transaction, so a failed import
never leaves the knowledge base half-written.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from knowledge.models import FAQ, PolicyChunk, ServiceGuide, item_from_dict

Item = ServiceGuide | FAQ | PolicyChunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    parent TEXT,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    imported_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS items_kind ON items(kind);
CREATE INDEX IF NOT EXISTS items_title ON items(title);
"""


class KnowledgeStore:
    """Items keyed by id; upserts replace the whole record."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(str(path), check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._conn:
            yield self._conn

    def upsert_many(self, items: Iterable[Item]) -> tuple[int, int]:
        """Insert or replace items in one transaction; returns (added, changed)."""
        added = changed = 0
        with self._transaction() as conn:
            for item in items:
                digest = item.content_hash()
                row = conn.execute("SELECT content_hash FROM items WHERE id = ?", (item.id,)).fetchone()
                if row is not None and row[0] == digest:
                    continue
                parent = getattr(item, "parent", None)
                conn.execute(
                    "INSERT OR REPLACE INTO items (id, kind, title, parent, content_hash, source, "
                    "data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        item.id,
                        item.kind,
                        item.title,
                        parent,
                        digest,
                        item.source,
                        json.dumps(item.model_dump(mode="json"), ensure_ascii=False),
                    ),
                )
                if row is None:
                    added += 1
                else:
                    changed += 1
        return added, changed

    def delete(self, item_id: str) -> bool:
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM items WHERE id = ?", (item_id,))
        return cur.rowcount > 0

    def get(self, item_id: str) -> Item | None:
        row = self._conn.execute("SELECT data FROM items WHERE id = ?", (item_id,)).fetchone()
        return item_from_dict(json.loads(row[0])) if row else None

    def find_by_title(self, title: str) -> Item | None:
        row = self._conn.execute(
            "SELECT data FROM items WHERE title = ? ORDER BY id LIMIT 1", (title,)
        ).fetchone()
        return item_from_dict(json.loads(row[0])) if row else None

    def iter_items(self, kind: str | None = None) -> Iterator[Item]:
        query = "SELECT data FROM items"
        args: tuple[str, ...] = ()
        if kind:
            query += " WHERE kind = ?"
            args = (kind,)
        for (data,) in self._conn.execute(query + " ORDER BY id", args).fetchall():
            yield item_from_dict(json.loads(data))

    def list_rows(
        self, kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[tuple[str, str, str]]:
        """(id, kind, title) rows for listings, without parsing whole records."""
        query = "SELECT id, kind, title FROM items"
        args: list[object] = []
        if kind:
            query += " WHERE kind = ?"
            args.append(kind)
        query += " ORDER BY kind, id LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [(r[0], r[1], r[2]) for r in self._conn.execute(query, args).fetchall()]

    def hashes(self) -> dict[str, str]:
        """id -> content hash, used by the index to see what changed."""
        rows = self._conn.execute("SELECT id, content_hash FROM items").fetchall()
        return {r[0]: r[1] for r in rows}

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM items").fetchone()[0])

    def sources(self) -> list[tuple[str, str, int, bool]]:
        """(source, kind, count, sample) per source and kind: what `govbot kb sources` lists."""
        rows = self._conn.execute(
            "SELECT source, kind, count(*), max(coalesce(json_extract(data, '$.sample'), 0)) "
            "FROM items GROUP BY source, kind ORDER BY source, kind"
        ).fetchall()
        return [(r[0], r[1], int(r[2]), bool(r[3])) for r in rows]

    def remove_source(self, source: str) -> int:
        """Delete every item of one source in one transaction; returns how many."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM items WHERE source = ?", (source,))
        return cur.rowcount

    def remove_sample(self) -> int:
        """Delete the bundled sample content (items marked sample); returns how many."""
        with self._transaction() as conn:
            cur = conn.execute("DELETE FROM items WHERE json_extract(data, '$.sample') = 1")
        return cur.rowcount

    def stats(self) -> dict[str, object]:
        kinds = dict(self._conn.execute("SELECT kind, count(*) FROM items GROUP BY kind"))
        sources = Counter(r[0] for r in self._conn.execute("SELECT source FROM items").fetchall())
        guides = list(self.iter_items("guide"))
        filled: Counter[str] = Counter()
        for guide in guides:
            for field in ("materials", "location", "legal_time_limit", "phone_enquiry"):
                if getattr(guide, field):
                    filled[field] += 1
        return {
            "total": self.count(),
            "by_kind": kinds,
            "by_source": dict(sources.most_common(10)),
            "guide_field_coverage": {f: round(n / len(guides), 3) for f, n in filled.items()}
            if guides
            else {},
        }
