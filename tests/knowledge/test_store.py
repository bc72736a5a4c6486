"""KnowledgeStore: upserts report what changed, imports are all-or-nothing per transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.operations import import_knowledge
from knowledge.importers import ImportOptions
from knowledge.store import Item, KnowledgeStore
from tests.utils.factories import make_chunk, make_faq, make_guide, write


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    kb = KnowledgeStore(tmp_path / "sub" / "kb.sqlite")
    yield kb
    kb.close()


def test_upsert_reports_added_and_changed(store: KnowledgeStore) -> None:
    items: list[Item] = [make_guide("g1", "事项一", fees="20元"), make_faq("f1"), make_chunk("c1")]
    assert store.upsert_many(items) == (3, 0)
    assert store.upsert_many(items) == (0, 0)  # identical: nothing changes
    before = store.hashes()
    assert store.upsert_many([make_guide("g1", "事项一", fees="40元"), make_guide("g2", "事项二")]) == (1, 1)
    after = store.hashes()
    assert after["g1"] != before["g1"] and after["f1"] == before["f1"]
    assert store.count() == 4


def test_get_find_iter_and_delete(store: KnowledgeStore) -> None:
    store.upsert_many([make_guide("g1", "事项一", materials=["身份证"]), make_faq("f1", "问题？")])
    guide = store.get("g1")
    assert guide is not None and guide.kind == "guide" and guide.materials == ["身份证"]  # type: ignore[union-attr]
    assert store.get("missing") is None
    assert store.find_by_title("问题？").id == "f1"  # type: ignore[union-attr]
    assert [i.id for i in store.iter_items("faq")] == ["f1"]
    assert store.list_rows() == [("f1", "faq", "问题？"), ("g1", "guide", "事项一")]
    assert store.list_rows("guide", limit=1) == [("g1", "guide", "事项一")]
    assert store.unpublish("g1") is True
    assert store.unpublish("g1") is False
    assert store.count() == 1


def test_stats(store: KnowledgeStore) -> None:
    store.upsert_many([make_guide("g1", "一", materials=["a"], source="s"), make_guide("g2", "二")])
    stats = store.stats()
    assert stats["total"] == 2
    assert stats["by_kind"] == {"guide": 2}
    assert stats["guide_field_coverage"] == {"materials": 0.5}


def test_failed_upsert_writes_nothing(store: KnowledgeStore) -> None:
    """An error in the middle of an import rolls back the records before it."""

    def items() -> Iterator:
        yield make_guide("g1", "一")
        raise RuntimeError("reader failed half-way")

    with pytest.raises(RuntimeError):
        store.upsert_many(items())
    assert store.count() == 0


def test_import_with_only_bad_records_leaves_store_unchanged(store: KnowledgeStore, tmp_path: Path) -> None:
    store.upsert_many([make_guide("keep", "原有事项")])
    before = store.hashes()
    bad = write(tmp_path / "bad.yml", "guides:\n  - id: x\n  - name: ''\n    id: y\n")
    summary = import_knowledge(store, bad, "auto", ImportOptions())
    assert (summary.added, summary.changed) == (0, 0)
    assert len(summary.result.errors) == 2
    assert store.hashes() == before


def test_store_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    first = KnowledgeStore(path)
    first.upsert_many([make_guide("g1", "一")])
    first.close()
    again = KnowledgeStore(path)
    try:
        assert again.get("g1") is not None
    finally:
        again.close()


def test_sources_and_remove_source(store: KnowledgeStore) -> None:
    store.upsert_many(
        [
            make_guide("g1", "一", source="目录A"),
            make_guide("g2", "二", source="目录A"),
            make_faq("f1", source="目录A"),
            make_guide("s1", "示例", source="sample.yml", sample=True),
        ]
    )
    assert store.sources() == [
        ("sample.yml", "guide", 1, True),
        ("目录A", "faq", 1, False),
        ("目录A", "guide", 2, False),
    ]
    assert store.remove_source("目录A") == 3
    assert store.remove_source("目录A") == 0
    assert [i.id for i in store.iter_items()] == ["s1"]


def test_importing_own_data_removes_the_bundled_sample(store: KnowledgeStore, tmp_path: Path) -> None:
    sample = write(tmp_path / "sample.yml", "guides:\n  - {id: s1, name: 示例事项}\n")
    first = import_knowledge(store, sample, "auto", ImportOptions(sample=True))
    assert (first.added, first.removed_sample) == (1, 0)
    bad = write(tmp_path / "bad.yml", "guides:\n  - {id: x}\n")
    assert import_knowledge(store, bad, "auto", ImportOptions()).removed_sample == 0  # nothing imported
    assert store.get("s1") is not None
    own = write(tmp_path / "own.yml", "guides:\n  - {id: g1, name: 真实事项}\n")
    summary = import_knowledge(store, own, "auto", ImportOptions())
    assert (summary.added, summary.removed_sample) == (1, 1)
    assert [i.id for i in store.iter_items()] == ["g1"]
