"""The full Guangdong catalog (../shared): import, index with the real encoder, find by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import load_settings
from index.builder import build_index
from index.encoders import make_encoder
from index.retriever import HybridRetriever
from jobs.operations import ann_params
from knowledge.importers import ImportOptions, import_path
from nlu.normalize import normalize_text
from tests.utils.factories import as_guides
from tests.utils.shared import shared_path


@pytest.mark.slow
def test_gd_catalog_index_and_lookup(tmp_path: Path) -> None:
    path = shared_path("data", "guangdong_services.jsonl")
    settings = load_settings(data_dir=tmp_path)
    items = as_guides(import_path(path, "auto", ImportOptions()).items)
    assert len(items) == 1965

    encoder = make_encoder(settings.index.embedder)
    report = build_index(items, encoder, settings.index_dir, ann_params=ann_params(settings))
    assert (report.total, report.embedded, report.reused) == (1965, 1965, 0)

    retriever = HybridRetriever.load(settings.index_dir, settings.index)
    sample = items[::40]
    top1 = 0
    for item in sample:
        query = normalize_text(item.name)
        hits = retriever.search(text=query, search_text=query, vector=encoder.encode_queries([query])[0])
        ids = [h.id for h in hits[:5]]
        assert item.id in ids, (item.name, [h.title for h in hits[:5]])
        top1 += ids[0] == item.id
    assert top1 >= 0.9 * len(sample)
