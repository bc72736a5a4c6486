"""Moving a data directory's old knowledge base (`kb.sqlite`, raw sqlite3) into the shared
database: one transaction, then the old file is renamed `kb.sqlite.migrated` so it is never read
twice. Vectors are not carried over (the old file had none): the next index build stores them.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from knowledge.models import item_from_dict
from knowledge.store import Item, KnowledgeStore

log = logging.getLogger(__name__)


def read_legacy(path: Path) -> list[Item]:
    """Every record of an old kb.sqlite (its `items` table)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT data FROM items ORDER BY id").fetchall()
    finally:
        conn.close()
    return [item_from_dict(json.loads(data)) for (data,) in rows]


def migrate_legacy(path: Path, kb: KnowledgeStore) -> int | None:
    """Copy `path` into `kb` and rename it; None when there is no old file. Returns the count."""
    if not path.is_file():
        return None
    items = read_legacy(path)
    kb.upsert_many(items)
    path.rename(path.with_name(path.name + ".migrated"))
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    log.info("kb.legacy.migrated", extra={"path": str(path), "items": len(items)})
    return len(items)
