"""Catching an index up with the knowledge base: the same index as a full build, only the
changed items applied (embedded and tokenised) on the incremental path, a full rebuild with its
reason when a change is large or the index far behind, and a new machine that embeds and
tokenises nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.settings import IndexSettings
from index.builder import build_index, embed_views
from index.lexical import terms
from index.retriever import HybridRetriever
from index.store import load_index
from index.sync import IndexSync
from knowledge.store import KnowledgeStore
from tests.utils.factories import FakeEncoder, make_faq, make_guide

ANN = {"flat_max": 50_000, "hnsw_max": 500_000, "m": 16, "ef_search": 64, "nprobe": 8}


def _sync(kb: KnowledgeStore, encoder: FakeEncoder, **index: object) -> IndexSync:
    return IndexSync(
        kb,
        encoder_name=encoder.name,
        dim=encoder.dim,
        embed=lambda views: embed_views(encoder, views),  # type: ignore[arg-type]
        index_settings=IndexSettings(**index),  # type: ignore[arg-type]
        ann_params=ANN,
    )


def _top(retriever: HybridRetriever, encoder: FakeEncoder, question: str) -> str | None:
    hits = retriever.search(
        text=question, search_text=question, vector=encoder.encode_queries([question])[0], mode="lexical"
    )
    return hits[0].id if hits else None


def test_catch_up_matches_a_full_build_and_embeds_only_what_changed(tmp_path: Path) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    encoder = FakeEncoder()
    kb.upsert_many(
        [make_guide("g1", "居住证办理"), make_guide("g2", "护照申领"), make_faq("f1", "怎么预约？")]
    )
    sync = _sync(kb, encoder, sync_full_fraction=1.0)
    served, first = sync.bootstrap(tmp_path / "index")
    assert first.embedded == 3 and served.manifest["kb_version"] == 1
    assert len(kb.stored_vectors(encoder.name)) == 3  # stored for the next machine

    kb.upsert_many([make_guide("g3", "社保卡补办")])
    kb.unpublish("f1")
    encoder.passages.clear()
    result = sync.refresh(served)
    assert result is not None
    caught_up, report = result
    assert (report.path, report.changed, report.removed, report.embedded) == ("incremental", 1, 1, 1)
    assert report.tokenised == 1  # only the new item
    assert sync.refresh(caught_up) is None  # current: nothing to do

    full = build_index(kb.iter_items(), encoder, tmp_path / "full", ann_params=ANN)
    assert full.total == 3
    reference = load_index(tmp_path / "full")
    ours = {r.id: caught_up.vectors[i] for i, r in enumerate(caught_up.records)}
    assert set(ours) == {r.id for r in reference.records} == {"g1", "g2", "g3"}
    for i, record in enumerate(reference.records):
        assert np.allclose(ours[record.id], reference.vectors[i], atol=1e-6)
    rebuilt = HybridRetriever(reference, caught_up.settings)
    for question in ("社保卡丢了怎么补办", "居住证怎么办", "护照", "怎么预约"):
        query = terms(question)
        mine = dict(zip([r.id for r in caught_up.records], caught_up.bm25.scores(query), strict=True))
        theirs = dict(zip([r.id for r in rebuilt.records], rebuilt.bm25.scores(query), strict=True))
        assert mine == theirs
        assert caught_up.bm25.max_possible(query) == rebuilt.bm25.max_possible(query)
    kb.close()


def test_an_incremental_refresh_changes_and_removes_answers(tmp_path: Path) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    encoder = FakeEncoder()
    items = [make_guide(f"g{i}", f"事项{i}号登记") for i in range(12)]
    kb.upsert_many([*items, make_guide("old", "渔船登记")])
    sync = _sync(kb, encoder)
    served, _ = sync.bootstrap(tmp_path / "index")
    assert _top(served, encoder, "渔船登记") == "old"

    kb.upsert_many([make_guide("new", "无人机飞行备案")])
    kb.unpublish("old")
    result = sync.refresh(served)
    assert result is not None
    refreshed, report = result
    assert report.path == "incremental" and report.reason == ""
    assert (report.changed, report.removed) == (1, 1)
    assert _top(refreshed, encoder, "无人机飞行备案") == "new"
    assert refreshed.record("old") is None and _top(refreshed, encoder, "渔船") != "old"
    assert _top(served, encoder, "渔船登记") == "old"  # the index in use was not touched
    assert served.record("new") is None
    kb.close()


def test_a_large_change_or_a_worker_far_behind_rebuilds_with_the_reason(tmp_path: Path) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    encoder = FakeEncoder()
    kb.upsert_many([make_guide(f"g{i}", f"事项{i}号登记") for i in range(8)])
    served, _ = _sync(kb, encoder).bootstrap(tmp_path / "index")

    kb.upsert_many([make_guide(f"n{i}", f"新事项{i}号") for i in range(4)])  # 4 of 8 > 25 %
    result = _sync(kb, encoder).refresh(served)
    assert result is not None
    large, report = result
    assert report.path == "full" and "index.sync_full_fraction" in report.reason
    assert len(large) == 12

    for i in range(3):  # three small changes, one version each
        kb.upsert_many([make_guide(f"m{i}", f"另一事项{i}号")])
    result = _sync(kb, encoder, sync_full_behind=2).refresh(large)
    assert result is not None
    assert result[1].path == "full" and "3 versions behind" in result[1].reason
    result = _sync(kb, encoder, sync_full_behind=3).refresh(large)
    assert result is not None and result[1].path == "incremental" and len(result[0]) == 15
    kb.close()


def test_a_new_machine_loads_stored_vectors_and_records_instead_of_recomputing(tmp_path: Path) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    kb.upsert_many([make_guide(f"g{i}", f"事项{i}号办理") for i in range(20)])
    _, first = _sync(kb, FakeEncoder()).bootstrap(tmp_path / "machine-a")
    assert first.tokenised == 20
    fresh = FakeEncoder()
    served, report = _sync(kb, fresh).bootstrap(tmp_path / "machine-b")
    assert report.embedded == 0 and fresh.passages == []
    assert report.tokenised == 0  # the terms came from the database
    assert isinstance(served, HybridRetriever) and len(served) == 20
    made_here = load_index(tmp_path / "machine-a").records
    assert [r.to_json() for r in served.records] == [r.to_json() for r in made_here]
    assert load_index(tmp_path / "machine-b").manifest["kb_id"] == kb.kb_id()

    kb.upsert_many([make_guide("g3", "事项3号办理（新）")])  # changed content: its record is stale
    _, report = _sync(kb, fresh).bootstrap(tmp_path / "machine-c")
    assert report.tokenised == 1

    other = KnowledgeStore(tmp_path / "other.sqlite")  # another database: the local index is not reused
    other.upsert_many([make_guide("x", "另一个库的事项")])
    served, report = _sync(other, fresh).bootstrap(tmp_path / "machine-b")
    assert [r.id for r in served.records] == ["x"]
    kb.close()
    other.close()


def test_records_made_under_another_lexicon_are_not_reused(tmp_path: Path) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    kb.upsert_many([make_guide("g1", "居住证办理")])
    record = _sync(kb, FakeEncoder()).bootstrap(tmp_path / "a")[0].records[0]
    stored = kb.stored_records("another-lexicon")
    assert stored == {}
    kb.save_records({"g1": (record.content_hash, record.dumps())}, "another-lexicon")
    assert set(kb.stored_records("another-lexicon")) == {"g1"}
    _, report = _sync(kb, FakeEncoder()).bootstrap(tmp_path / "b")
    assert report.tokenised == 1  # made under another key: tokenised again
    kb.close()
