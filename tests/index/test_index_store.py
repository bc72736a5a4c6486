"""The index folder: round trip, atomic replacement, clear errors when missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import store as store_module
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


def test_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    data = _data()
    save_index(folder, data)
    loaded = load_index(folder)
    assert loaded.records == data.records
    np.testing.assert_array_equal(loaded.vectors, data.vectors)
    assert loaded.faiss_bytes == b"ann-bytes"
    assert loaded.manifest["encoder"] == "fake"
    assert loaded.manifest["count"] == 3


def test_loaded_terms_are_shared_not_copied(tmp_path: Path) -> None:
    """One string object per distinct term across records: a copy per occurrence was most of
    a large index's memory."""
    folder = tmp_path / "index"
    save_index(folder, _data())
    first, second = load_index(folder).records[:2]
    assert first.lexical == second.lexical == ["事项", "#事项"]
    assert all(a is b for a, b in zip(first.lexical, second.lexical, strict=True))


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
