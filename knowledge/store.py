"""The knowledge base in the shared database (SQLite by default, PostgreSQL with DATABASE_URL).

Guarantees: an import is one transaction, so a failed import changes nothing; each record keeps
its content hash, so the index re-embeds only what changed; every change bumps the one
knowledge-base version (and, on PostgreSQL, sends NOTIFY `govbot_kb` on commit), so every worker
on every machine can bring its in-process index up to date (index/sync.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.db import Database
from knowledge import tables
from knowledge.models import FAQ, PolicyChunk, ServiceGuide, item_from_dict
from knowledge.vectors import StoredVector, vector_key

Item = ServiceGuide | FAQ | PolicyChunk

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "kb_alembic_version"
NOTIFY_CHANNEL = "govbot_kb"

_items = tables.items


@dataclass
class StoredItem:
    """A published item as stored: parsed only when asked (a joining machine that finds the
    index record stored needs neither the item nor its validation)."""

    id: str
    content_hash: str
    data: str
    vector: StoredVector | None
    record: str | None = None  # the index record as JSON, valid under record_key
    record_key: str | None = None

    @cached_property
    def item(self) -> Item:
        return item_from_dict(json.loads(self.data))


@dataclass
class KBChanges:
    """What changed after a version: published items (with stored vectors) and removed ids."""

    version: int
    kb_id: str  # the database's identity: versions of another database mean nothing here
    items: list[StoredItem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


STREAM_ROWS = 1000
"""Rows fetched at a time where every item is read: holding all of them (200k records of a few
kilobytes each) was gigabytes at start-up and at every index build (docs/benchmarks.md 16)."""


class KnowledgeStore:
    """Items keyed by id; upserts replace the whole record. `target` is a database URL, or a
    Path to a SQLite file; the schema is migrated on open."""

    def __init__(self, target: str | Path, *, migrate: bool = True) -> None:
        self.db = Database(target)
        self.path = target  # what it was opened on, for messages
        if migrate:
            self.db.migrate(MIGRATIONS, VERSION_TABLE)

    def close(self) -> None:
        self.db.dispose()

    # --- writes: each one transaction that bumps the version -----------------------------
    def _bump(self, conn: Connection) -> int:
        conn.execute(
            update(tables.state).where(tables.state.c.id == 1).values(version=tables.state.c.version + 1)
        )
        version = int(conn.execute(select(tables.state.c.version).where(tables.state.c.id == 1)).scalar_one())
        if not self.db.is_sqlite:
            conn.exec_driver_sql(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '{version}')")
        return version

    def upsert_many(
        self, items: Iterable[Item], vectors: Mapping[str, StoredVector] | None = None
    ) -> tuple[int, int]:
        """Insert or replace items in one transaction; returns (added, changed).

        `vectors` (by item id) are stored with the items; an item whose embedded texts did not
        change keeps the vector it has."""
        vectors = vectors or {}
        added = changed = 0
        now = datetime.now(UTC)
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        with self.db.engine.begin() as conn:
            version: int | None = None
            for item in items:
                digest = item.content_hash()
                row = conn.execute(
                    select(_items.c.content_hash, _items.c.published, _items.c.vector_key).where(
                        _items.c.id == item.id
                    )
                ).first()
                if row is not None and row.content_hash == digest and row.published:
                    continue
                if version is None:
                    version = self._bump(conn)
                key = vector_key(item.dense_views())
                values = {
                    "kind": item.kind,
                    "title": item.title,
                    "parent": getattr(item, "parent", None),
                    "content_hash": digest,
                    "source": item.source,
                    "data": json.dumps(item.model_dump(mode="json"), ensure_ascii=False),
                    "imported_at": now,
                    "version": version,
                    "published": True,
                    "record_key": None,  # the content changed: the stored index record is stale
                    "record": None,
                }
                given = vectors.get(item.id)
                if given is not None and given.key == key:
                    values |= {"vector_encoder": given.encoder, "vector_key": key, "vector": given.data}
                elif row is None or row.vector_key != key:
                    values |= {"vector_encoder": None, "vector_key": None, "vector": None}
                stmt = insert(_items).values(id=item.id, **values)
                conn.execute(stmt.on_conflict_do_update(index_elements=[_items.c.id], set_=values))
                if row is None or not row.published:
                    added += 1
                else:
                    changed += 1
        return added, changed

    def unpublish(self, item_id: str) -> bool:
        """Take an item out of answers everywhere; the row stays as a tombstone."""
        with self.db.engine.begin() as conn:
            found = conn.execute(
                select(_items.c.id).where(_items.c.id == item_id, _items.c.published.is_(True))
            ).first()
            if found is None:
                return False
            version = self._bump(conn)
            conn.execute(
                update(_items).where(_items.c.id == item_id).values(published=False, version=version)
            )
        return True

    def save_vectors(self, vectors: Mapping[str, StoredVector]) -> int:
        """Store vectors computed after the fact (index build); only where the item still has
        the texts they embed. Not a content change: the version stays."""
        saved = 0
        with self.db.engine.begin() as conn:
            for item_id, vec in vectors.items():
                rows = conn.execute(
                    select(_items.c.data).where(_items.c.id == item_id, _items.c.published.is_(True))
                ).first()
                if rows is None or vector_key(item_from_dict(json.loads(rows.data)).dense_views()) != vec.key:
                    continue
                conn.execute(
                    update(_items)
                    .where(_items.c.id == item_id)
                    .values(vector_encoder=vec.encoder, vector_key=vec.key, vector=vec.data)
                )
                saved += 1
        return saved

    def save_records(self, records: Mapping[str, tuple[str, str]], key: str) -> None:
        """Store index records (id -> (content hash, JSON)) made under lexicon `key`, where the
        item still has that content. Not a content change: the version stays."""
        if not records:
            return
        stmt = (
            update(_items)
            .where(_items.c.id == bindparam("b_id"), _items.c.content_hash == bindparam("b_hash"))
            .values(record_key=key, record=bindparam("b_record"))
        )
        rows = [{"b_id": i, "b_hash": h, "b_record": r} for i, (h, r) in records.items()]
        with self.db.engine.begin() as conn:
            conn.execute(stmt, rows)

    def stored_records(self, key: str) -> dict[str, tuple[str, str]]:
        """id -> (content hash, JSON) of the published items whose index record was made under
        lexicon `key`."""
        query = select(_items.c.id, _items.c.content_hash, _items.c.record).where(
            self._published(), _items.c.record_key == key, _items.c.record.is_not(None)
        )
        with self.db.read_engine.connect() as conn:
            return {r.id: (r.content_hash, r.record) for r in conn.execute(query)}

    # --- reads ---------------------------------------------------------------------------
    def kb_id(self) -> str:
        with self.db.read_engine.connect() as conn:
            return str(conn.execute(select(tables.state.c.kb_id).where(tables.state.c.id == 1)).scalar_one())

    def version(self) -> int:
        with self.db.read_engine.connect() as conn:
            return int(
                conn.execute(select(tables.state.c.version).where(tables.state.c.id == 1)).scalar_one()
            )

    def changes_since(self, version: int) -> KBChanges:
        """Everything changed after `version` (0: the whole knowledge base). The version is
        read first, so a change committed meanwhile is at worst applied twice, never missed."""
        with self.db.read_engine.connect() as conn:
            state = conn.execute(
                select(tables.state.c.version, tables.state.c.kb_id).where(tables.state.c.id == 1)
            ).one()
            rows = conn.execute(
                select(
                    _items.c.id,
                    _items.c.data,
                    _items.c.published,
                    _items.c.vector_encoder,
                    _items.c.vector_key,
                    _items.c.vector,
                    _items.c.content_hash,
                    _items.c.record_key,
                    _items.c.record,
                )
                .where(_items.c.version > version)
                .order_by(_items.c.id)
            ).all()
        changes = KBChanges(version=int(state.version), kb_id=state.kb_id)
        for row in rows:
            if not row.published:
                changes.removed.append(row.id)
                continue
            vec = None
            if row.vector is not None and row.vector_encoder and row.vector_key:
                vec = StoredVector(row.vector_encoder, row.vector_key, bytes(row.vector))
            changes.items.append(
                StoredItem(row.id, row.content_hash, row.data, vec, row.record, row.record_key)
            )
        return changes

    def stored_vectors(self, encoder: str) -> dict[str, StoredVector]:
        """id -> stored vector made by `encoder`, for the published items that have one."""
        query = select(_items.c.id, _items.c.vector_key, _items.c.vector).where(
            _items.c.published.is_(True), _items.c.vector_encoder == encoder, _items.c.vector.is_not(None)
        )
        with self.db.read_engine.connect() as conn:
            return {r.id: StoredVector(encoder, r.vector_key, bytes(r.vector)) for r in conn.execute(query)}

    def _published(self):  # type: ignore[no-untyped-def]
        return _items.c.published.is_(True)

    def guide_names(self) -> Iterator[tuple[str, list[str]]]:
        """(id, [title, *aliases]) of every published guide, by id, without validating whole
        records (the tokenizer's user words at start-up)."""
        query = select(_items.c.id, _items.c.title, _items.c.data).where(
            self._published(), _items.c.kind == "guide"
        )
        with self.db.read_engine.connect() as conn:
            for row in conn.execution_options(yield_per=STREAM_ROWS).execute(query.order_by(_items.c.id)):
                yield row.id, [row.title, *(json.loads(row.data).get("aliases") or [])]

    def get(self, item_id: str) -> Item | None:
        with self.db.read_engine.connect() as conn:
            data = conn.execute(
                select(_items.c.data).where(_items.c.id == item_id, self._published())
            ).scalar()
        return item_from_dict(json.loads(data)) if data else None

    def find_by_title(self, title: str) -> Item | None:
        query = select(_items.c.data).where(_items.c.title == title, self._published()).order_by(_items.c.id)
        with self.db.read_engine.connect() as conn:
            data = conn.execute(query.limit(1)).scalar()
        return item_from_dict(json.loads(data)) if data else None

    def iter_items(self, kind: str | None = None) -> Iterator[Item]:
        query = select(_items.c.data).where(self._published())
        if kind:
            query = query.where(_items.c.kind == kind)
        with self.db.read_engine.connect() as conn:
            for data in (
                conn.execution_options(yield_per=STREAM_ROWS).execute(query.order_by(_items.c.id)).scalars()
            ):
                yield item_from_dict(json.loads(data))

    def list_rows(
        self, kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[tuple[str, str, str]]:
        """(id, kind, title) rows for listings, without parsing whole records."""
        return [(i, k, t) for i, k, t, _source in self.search_rows("", kind, limit, offset)]

    def search_rows(
        self, words: str = "", kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[tuple[str, str, str, str]]:
        """(id, kind, title, source) of published items whose title, id or source holds every
        word, for the administration pages' search."""
        query = select(_items.c.id, _items.c.kind, _items.c.title, _items.c.source).where(self._published())
        for word in words.split():
            query = query.where(
                _items.c.title.contains(word, autoescape=True)
                | _items.c.id.contains(word, autoescape=True)
                | _items.c.source.contains(word, autoescape=True)
            )
        if kind:
            query = query.where(_items.c.kind == kind)
        query = query.order_by(_items.c.kind, _items.c.id).limit(limit).offset(offset)
        with self.db.read_engine.connect() as conn:
            return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]

    def hashes(self) -> dict[str, str]:
        """id -> content hash, used by the index to see what changed."""
        with self.db.read_engine.connect() as conn:
            rows = conn.execute(select(_items.c.id, _items.c.content_hash).where(self._published()))
            return {r[0]: r[1] for r in rows}

    def count(self) -> int:
        with self.db.read_engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(_items).where(self._published())).scalar_one()
            )

    def sources(self) -> list[tuple[str, str, int, bool]]:
        """(source, kind, count, sample) per source and kind: what `govbot kb sources` lists."""
        query = (
            select(_items.c.source, _items.c.kind, func.count(), func.min(_items.c.id))
            .where(self._published())
            .group_by(_items.c.source, _items.c.kind)
            .order_by(_items.c.source, _items.c.kind)
        )
        with self.db.read_engine.connect() as conn:
            groups = conn.execute(query).all()
            firsts = {g[3] for g in groups}
            data = dict(conn.execute(select(_items.c.id, _items.c.data).where(_items.c.id.in_(firsts))).all())
        # a source is sample content as a whole (the bundled files), so one record tells
        return [(g[0], g[1], int(g[2]), bool(json.loads(data[g[3]]).get("sample"))) for g in groups]

    def remove_source(self, source: str) -> int:
        """Unpublish every item of one source in one transaction (every worker drops them)."""
        return self._unpublish_where(_items.c.source == source)

    def remove_sample(self) -> int:
        """Unpublish the bundled sample content (items marked sample); returns how many."""
        samples = [row[0] for row in self.sources() if row[3]]
        return self._unpublish_where(_items.c.source.in_(samples)) if samples else 0

    def _unpublish_where(self, condition: ColumnElement[bool]) -> int:
        with self.db.engine.begin() as conn:
            ids = conn.execute(select(_items.c.id).where(condition, self._published())).scalars().all()
            if not ids:
                return 0
            version = self._bump(conn)
            conn.execute(update(_items).where(_items.c.id.in_(ids)).values(published=False, version=version))
        return len(ids)

    def stats(self) -> dict[str, object]:
        with self.db.read_engine.connect() as conn:
            kinds = {
                r[0]: r[1]
                for r in conn.execute(
                    select(_items.c.kind, func.count()).where(self._published()).group_by(_items.c.kind)
                )
            }
            sources = Counter(r[0] for r in conn.execute(select(_items.c.source).where(self._published())))
        guides = list(self.iter_items("guide"))
        filled: Counter[str] = Counter()
        for guide in guides:
            for name in ("materials", "location", "legal_time_limit", "phone_enquiry"):
                if getattr(guide, name):
                    filled[name] += 1
        return {
            "total": self.count(),
            "by_kind": kinds,
            "by_source": dict(sources.most_common(10)),
            "guide_field_coverage": {f: round(n / len(guides), 3) for f, n in filled.items()}
            if guides
            else {},
        }
