"""The knowledge base on SQLite and PostgreSQL: versions, tombstones, stored vectors, the old
kb.sqlite moved in once, and a failed import that changes nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.legacy import migrate_legacy
from knowledge.store import KnowledgeStore
from knowledge.vectors import StoredVector, vector_key
from tests.utils.factories import make_faq, make_guide
from tests.utils.ticketdb import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def kb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeStore]:
    with database_url(request.param, tmp_path) as url:
        store = KnowledgeStore(url)
        yield store
        store.close()


def test_every_change_bumps_the_version_and_is_listed_since(kb: KnowledgeStore) -> None:
    assert kb.version() == 0
    kb.upsert_many([make_guide("g1", "一"), make_faq("f1")])
    assert kb.version() == 1
    kb.upsert_many([make_guide("g1", "一")])  # unchanged: no new version
    assert kb.version() == 1
    kb.upsert_many([make_guide("g1", "一", fees="10元")])
    assert kb.unpublish("f1") and not kb.unpublish("f1")
    changes = kb.changes_since(1)
    assert changes.version == 3
    assert [s.item.id for s in changes.items] == ["g1"] and changes.removed == ["f1"]
    assert kb.get("f1") is None and kb.count() == 1
    assert kb.upsert_many([make_faq("f1")]) == (1, 0)  # published again: counted as added
    assert kb.changes_since(3).removed == [] and kb.get("f1") is not None


def test_vectors_are_kept_while_the_embedded_texts_stay(kb: KnowledgeStore) -> None:
    guide = make_guide("g1", "一")
    vec = StoredVector("enc", vector_key(guide.dense_views()), b"\x00" * 8)
    kb.upsert_many([guide], {"g1": vec})
    assert kb.stored_vectors("enc") == {"g1": vec}
    assert kb.stored_vectors("other") == {}
    kb.upsert_many([make_guide("g1", "一", fees="10元")])  # fees are not embedded
    assert kb.stored_vectors("enc") == {"g1": vec}
    kb.upsert_many([make_guide("g1", "改名后的事项")])
    assert kb.stored_vectors("enc") == {}
    stale = StoredVector("enc", vec.key, b"\x01" * 8)
    assert kb.save_vectors({"g1": stale}) == 0  # made from the old texts: refused


def test_a_failed_import_changes_nothing_and_keeps_the_version(kb: KnowledgeStore) -> None:
    kb.upsert_many([make_guide("keep", "原有事项")])

    def items() -> Iterator[object]:
        yield make_guide("g2", "二")
        raise RuntimeError("reader failed half-way")

    with pytest.raises(RuntimeError):
        kb.upsert_many(items())  # type: ignore[arg-type]
    assert kb.version() == 1 and kb.get("g2") is None


def test_the_old_kb_sqlite_moves_in_once(kb: KnowledgeStore, tmp_path: Path) -> None:
    old = tmp_path / "kb.sqlite"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE items (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    for item in (make_guide("g1", "一"), make_faq("f1")):
        conn.execute("INSERT INTO items VALUES (?, ?)", (item.id, json.dumps(item.model_dump(mode="json"))))
    conn.commit()
    conn.close()
    assert migrate_legacy(old, kb) == 2
    assert kb.count() == 2 and not old.exists() and (tmp_path / "kb.sqlite.migrated").is_file()
    assert migrate_legacy(old, kb) is None
