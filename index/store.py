"""The index on disk: one folder with a manifest, swapped in atomically.

A build writes a sibling temporary folder and renames it into place, so a
crash or a bad import never leaves a half-written index behind.

Format 3 keeps the documents' lexical terms as one term-count matrix (terms.npz, the
columns named in vocab.json) instead of a list of terms in every line of records.jsonl:
at 200k items those lists were 90% of the folder (800 MB of JSON), and parsing them most
of the index load's time and peak memory (docs/benchmarks.md 16). Format 2 folders are
still read (their terms counted at load).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from index.lexical import TermCounts
from index.records import IndexRecord

MANIFEST = "manifest.json"
FORMAT_VERSION = 3
READABLE_FORMATS = (2, 3)


@dataclass
class IndexData:
    records: list[IndexRecord]
    vectors: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    faiss_bytes: bytes | None = None  # serialized ANN index, when not flat
    terms: TermCounts | None = None  # the records' lexical terms counted; None: in the records

    def term_counts(self) -> TermCounts:
        """The records' term counts: stored ones, or counted from the records' term lists."""
        if self.terms is None:
            self.terms = TermCounts.of([r.lexical for r in self.records])
        return self.terms


class IndexNotBuiltError(RuntimeError):
    """No index in the data directory yet: run `govbot index build`."""


def save_index(folder: Path, data: IndexData) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{int(time.time() * 1000)}")
    tmp.mkdir()
    try:
        terms = data.term_counts()
        with (tmp / "records.jsonl").open("w", encoding="utf-8") as handle:
            for record in data.records:
                fields = record.to_json()
                del fields["lexical"]  # in terms.npz
                handle.write(json.dumps(fields, ensure_ascii=False) + "\n")
        counts = terms.counts
        np.savez(tmp / "terms.npz", indptr=counts.indptr, indices=counts.indices, data=counts.data)
        # the vocabulary's insertion order is its column order (index.lexical._term_counts)
        (tmp / "vocab.json").write_text(json.dumps(list(terms.vocab), ensure_ascii=False))
        np.save(tmp / "vectors.npy", data.vectors.astype(np.float32))
        if data.faiss_bytes is not None:
            (tmp / "ann.faiss").write_bytes(data.faiss_bytes)
        manifest = {**data.manifest, "format": FORMAT_VERSION, "count": len(data.records)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        old = folder.with_name(f"{folder.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_index(folder: Path, *, with_terms: bool = True) -> IndexData:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise IndexNotBuiltError(f"no index in {folder}; run `govbot index build`")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") not in READABLE_FORMATS:
        raise IndexNotBuiltError(f"index in {folder} has an old format; run `govbot index build`")
    with (folder / "records.jsonl").open(encoding="utf-8") as handle:
        records = [IndexRecord.from_json(json.loads(line)) for line in handle if line.strip()]
    # without terms (a build that reuses only the vectors): a format-3 folder's records have none
    terms = _load_terms(folder, len(records)) if with_terms and manifest["format"] >= 3 else None
    vectors = np.load(folder / "vectors.npy")
    ann = folder / "ann.faiss"
    return IndexData(records, vectors, manifest, ann.read_bytes() if ann.is_file() else None, terms)


def _load_terms(folder: Path, count: int) -> TermCounts:
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    with np.load(folder / "terms.npz") as arrays:
        counts = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(count, len(vocab)))
    return TermCounts(counts, {term: col for col, term in enumerate(vocab)})


def serialize_ann(index: Any) -> bytes:
    """faiss index -> bytes, for the ann.faiss file."""
    import faiss

    return bytes(faiss.serialize_index(index).tobytes())


def deserialize_ann(data: bytes) -> Any:
    import faiss

    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
