"""Index builds reuse the vectors of unchanged items and report what they did."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import load_settings
from index.builder import build_index, record_for
from index.retriever import HybridRetriever
from index.store import load_index
from jobs.operations import ann_params
from knowledge.importers import ImportOptions, import_path
from tests.utils.factories import FakeEncoder, make_chunk, make_faq, make_guide

SETTINGS = load_settings()
PARAMS = ann_params(SETTINGS)


@pytest.fixture(scope="module")
def sample_items() -> list:
    folder = SETTINGS.resolve(SETTINGS.knowledge.sample_dir)
    result = import_path(folder, "auto", ImportOptions(sample=True))
    assert result.errors == []
    return result.items


def test_first_build_embeds_everything(tmp_path: Path, sample_items: list) -> None:
    encoder = FakeEncoder()
    report = build_index(sample_items, encoder, tmp_path / "index", ann_params=PARAMS, batch_size=16)
    n = len(sample_items)
    assert (report.total, report.embedded, report.reused, report.removed) == (n, n, 0, 0)
    assert report.ann_kind == "flat"
    assert len(encoder.passages) >= n  # at least one text per item
    data = load_index(tmp_path / "index")
    assert [r.id for r in data.records] == [i.id for i in sample_items]
    assert data.vectors.shape == (n, encoder.dim)
    assert data.manifest["encoder"] == encoder.name


def test_changing_one_item_embeds_one(tmp_path: Path, sample_items: list) -> None:
    folder = tmp_path / "index"
    build_index(sample_items, FakeEncoder(), folder, ann_params=PARAMS)
    first = load_index(folder)
    changed = list(sample_items)
    pos = next(i for i, item in enumerate(changed) if item.kind == "guide")
    changed[pos] = changed[pos].model_copy(update={"aliases": [*changed[pos].aliases, "新加的别名"]})
    encoder = FakeEncoder()
    report = build_index(changed, encoder, folder, ann_params=PARAMS)
    n = len(sample_items)
    assert (report.embedded, report.reused, report.removed) == (1, n - 1, 0)
    # exactly what a build of that one item alone would embed, nothing of the others
    alone = FakeEncoder()
    build_index([changed[pos]], alone, tmp_path / "alone", ann_params=PARAMS)
    assert encoder.passages == alone.passages
    second = load_index(folder)
    keep = [i for i in range(n) if i != pos]
    assert (second.vectors[keep] == first.vectors[keep]).all()
    assert not (second.vectors[pos] == first.vectors[pos]).all()


def test_deleted_item_is_counted_as_removed(tmp_path: Path, sample_items: list) -> None:
    folder = tmp_path / "index"
    build_index(sample_items, FakeEncoder(), folder, ann_params=PARAMS)
    report = build_index(sample_items[1:], FakeEncoder(), folder, ann_params=PARAMS)
    assert (report.total, report.embedded, report.removed) == (len(sample_items) - 1, 0, 1)
    assert sample_items[0].id not in {r.id for r in load_index(folder).records}


def test_new_encoder_or_full_rebuild_embeds_everything(tmp_path: Path, sample_items: list) -> None:
    folder = tmp_path / "index"
    build_index(sample_items, FakeEncoder(), folder, ann_params=PARAMS)
    n = len(sample_items)
    assert build_index(sample_items, FakeEncoder(), folder, ann_params=PARAMS, full=True).embedded == n
    other = FakeEncoder(name="fake:other-model")
    assert build_index(sample_items, other, folder, ann_params=PARAMS).embedded == n


def test_progress_reports_every_item(tmp_path: Path, sample_items: list) -> None:
    folder = tmp_path / "index"
    build_index(sample_items, FakeEncoder(), folder, ann_params=PARAMS)
    seen: list[int] = []
    items = [*sample_items[:-1], make_guide("extra", "额外事项")]
    build_index(items, FakeEncoder(), folder, ann_params=PARAMS, progress=seen.append)
    assert sum(seen) == len(sample_items)


def test_ann_index_above_flat_threshold(tmp_path: Path, sample_items: list) -> None:
    """With a tiny flat_max the build writes an HNSW index that the retriever searches."""
    folder = tmp_path / "index"
    params = {**PARAMS, "flat_max": 10}
    report = build_index(sample_items, FakeEncoder(), folder, ann_params=params)
    assert report.ann_kind == "hnsw"
    data = load_index(folder)
    assert data.faiss_bytes
    retriever = HybridRetriever(data, SETTINGS.index)
    assert retriever.dense_scores(data.vectors[7]).argmax() == 7


def test_record_for_each_kind() -> None:
    guide = record_for(make_guide("g", "事项", aliases=["别名"], parent="p"))
    assert guide.names == ["事项", "别名"] and guide.parent == "p" and guide.lexical
    faq = record_for(make_faq("f", "问题？", alt_questions=["另一问法"]))
    assert faq.names == ["问题？", "另一问法"]
    chunk = record_for(make_chunk("c"))
    assert chunk.names == [] and chunk.kind == "chunk" and chunk.title.startswith("《")
