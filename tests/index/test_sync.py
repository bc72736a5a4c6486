"""Catching an index up with the knowledge base: the same index as a full build, only the
items without a stored vector embedded, and a new machine that embeds nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.builder import build_index, embed_views
from index.retriever import HybridRetriever
from index.store import load_index
from index.sync import IndexSync
from knowledge.store import KnowledgeStore
from tests.utils.factories import FakeEncoder, make_faq, make_guide

ANN = {"flat_max": 50_000, "hnsw_max": 500_000, "m": 16, "ef_search": 64, "nprobe": 8}


def _sync(kb: KnowledgeStore, encoder: FakeEncoder, settings: object) -> IndexSync:
    return IndexSync(
        kb,
        encoder_name=encoder.name,
        dim=encoder.dim,
        embed=lambda views: embed_views(encoder, views),  # type: ignore[arg-type]
        index_settings=settings,
        ann_params=ANN,
    )


def test_catch_up_matches_a_full_build_and_embeds_only_what_changed(tmp_path: Path, settings: object) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    encoder = FakeEncoder()
    kb.upsert_many(
        [make_guide("g1", "居住证办理"), make_guide("g2", "护照申领"), make_faq("f1", "怎么预约？")]
    )
    sync = _sync(kb, encoder, settings.index)  # type: ignore[attr-defined]
    served, first = sync.bootstrap(tmp_path / "index")
    assert first.embedded == 3 and served.manifest["kb_version"] == 1
    assert len(kb.stored_vectors(encoder.name)) == 3  # stored for the next machine

    kb.upsert_many([make_guide("g3", "社保卡补办")])
    kb.unpublish("f1")
    encoder.passages.clear()
    result = sync.refresh(served)
    assert result is not None
    caught_up, report = result
    assert (report.changed, report.removed, report.embedded) == (1, 1, 1)
    assert sync.refresh(caught_up) is None  # current: nothing to do

    full = build_index(kb.iter_items(), encoder, tmp_path / "full", ann_params=ANN)
    assert full.total == 3
    reference = load_index(tmp_path / "full")
    ours = {r.id: caught_up.vectors[i] for i, r in enumerate(caught_up.records)}
    assert set(ours) == {r.id for r in reference.records} == {"g1", "g2", "g3"}
    for i, record in enumerate(reference.records):
        assert np.allclose(ours[record.id], reference.vectors[i], atol=1e-6)
    kb.close()


def test_a_new_machine_loads_stored_vectors_instead_of_embedding(tmp_path: Path, settings: object) -> None:
    kb = KnowledgeStore(tmp_path / "db.sqlite")
    kb.upsert_many([make_guide(f"g{i}", f"事项{i}号办理") for i in range(20)])
    _sync(kb, FakeEncoder(), settings.index).bootstrap(tmp_path / "machine-a")  # type: ignore[attr-defined]
    fresh = FakeEncoder()
    served, report = _sync(kb, fresh, settings.index).bootstrap(tmp_path / "machine-b")  # type: ignore[attr-defined]
    assert report.embedded == 0 and fresh.passages == []
    assert isinstance(served, HybridRetriever) and len(served) == 20
    assert load_index(tmp_path / "machine-b").manifest["kb_id"] == kb.kb_id()
    other = KnowledgeStore(tmp_path / "other.sqlite")  # another database: the local index is not reused
    other.upsert_many([make_guide("x", "另一个库的事项")])
    served, report = _sync(other, fresh, settings.index).bootstrap(tmp_path / "machine-b")  # type: ignore[attr-defined]
    assert [r.id for r in served.records] == ["x"]
    kb.close()
    other.close()
