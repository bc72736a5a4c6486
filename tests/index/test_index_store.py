"""The index folder: round trip, atomic replacement, clear errors when missing."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from index import store as store_module
from index.lexical import BM25Index, TermCounts
from index.records import IndexRecord
from index.store import MANIFEST, IndexData, IndexNotBuiltError, load_index, save_index


def _data(n: int = 3, seed: int = 0) -> IndexData:
    records = [
        IndexRecord(
            id=f"item-{i}",
            kind="guide",
            title=f"事项{i}",
            parent="item-0" if i else None,
            content_hash=f"h{i}",
            names=[f"事项{i}", f"别名{i}"],
            lexical=["事项", "#事项"],
        )
        for i in range(n)
    ]
    vectors = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
    return IndexData(records, vectors, {"encoder": "fake", "dim": 8}, b"ann-bytes")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def _without_terms(records: list[IndexRecord]) -> list[IndexRecord]:
    return [dataclasses.replace(r, lexical=[]) for r in records]


def test_round_trip(tmp_path: Path) -> None:
    """Records come back without their term lists; the terms come back as counts, equal to
    counting the lists."""
    folder = tmp_path / "index"
    data = _data()
    save_index(folder, data)
    loaded = load_index(folder)
    assert loaded.records == _without_terms(data.records)
    np.testing.assert_array_equal(loaded.vectors, data.vectors)
    assert loaded.faiss_bytes == b"ann-bytes"
    assert loaded.manifest["encoder"] == "fake"
    assert loaded.manifest["count"] == 3
    assert loaded.manifest["format"] == store_module.FORMAT_VERSION
    assert "lexical" not in (folder / "records.jsonl").read_text(encoding="utf-8")
    expected = TermCounts.of([r.lexical for r in data.records])
    assert loaded.terms is not None and loaded.terms.vocab == expected.vocab
    assert (loaded.terms.counts != expected.counts).nnz == 0


def test_term_counts_round_trip_on_random_documents(tmp_path: Path) -> None:
    """Random term lists (repeats, documents without terms, a count after changes): the loaded
    counts are the counts, and BM25 over them scores as BM25 over the lists."""
    rng = random.Random(5)
    words = ["身份证", "#身份", "@shen_fen", "护照", "#护照", "社保", "x"]
    lists = [[rng.choice(words) for _ in range(rng.randint(0, 12))] for _ in range(40)]
    keep_order = lists[5:30] + lists[30:]
    data = _data(len(keep_order))
    data.terms = TermCounts.of(lists[:30]).with_changes(list(range(5, 30)), lists[30:])
    folder = tmp_path / "index"
    save_index(folder, data)
    loaded = load_index(folder).term_counts()
    names = {col: term for term, col in loaded.vocab.items()}
    rows = [
        Counter({names[int(c)]: int(v) for c, v in zip(row.indices, row.data, strict=True)})
        for row in loaded.counts
    ]
    assert rows == [Counter(terms) for terms in keep_order]
    query = ["身份证", "护照", "#护照"]
    # columns in another order add a document's weights in another order: equal to float32 rounding
    np.testing.assert_allclose(
        BM25Index.from_counts(loaded).scores(query), BM25Index(keep_order).scores(query), rtol=1e-6
    )


def test_format_2_folders_are_still_read(tmp_path: Path) -> None:
    """A folder written before the term counts (records with their term lists) loads, and its
    terms are counted from the lists."""
    folder = tmp_path / "index"
    folder.mkdir()
    data = _data()
    with (folder / "records.jsonl").open("w", encoding="utf-8") as handle:
        for record in data.records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    np.save(folder / "vectors.npy", data.vectors)
    (folder / MANIFEST).write_text(json.dumps({"format": 2, "count": 3}))
    loaded = load_index(folder)
    assert loaded.records == data.records and loaded.terms is None
    assert loaded.term_counts().vocab == {"事项": 0, "#事项": 1}


def test_replace_is_atomic_and_leaves_no_temporary_folders(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    save_index(folder, _data(3))
    save_index(folder, IndexData(_data(2).records, _data(2).vectors, {}, None))
    assert _leftovers(folder) == []
    loaded = load_index(folder)
    assert len(loaded.records) == 2
    assert loaded.faiss_bytes is None  # the old ann file did not survive the swap


def test_failed_save_keeps_the_old_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "index"
    save_index(folder, _data(3))

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store_module.np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_index(folder, _data(5))
    monkeypatch.undo()
    assert len(load_index(folder).records) == 3
    assert _leftovers(folder) == []


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuiltError, match="govbot index build"):
        load_index(tmp_path / "nothing-here")


def test_old_format_index(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    save_index(folder, _data())
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["format"] = 0
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexNotBuiltError, match="old format"):
        load_index(folder)
