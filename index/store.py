"""The index on disk: one folder with a manifest, swapped in atomically.

A build writes a sibling temporary folder and renames it into place, so a
crash or a bad import never leaves a half-written index behind.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.records import IndexRecord

MANIFEST = "manifest.json"
FORMAT_VERSION = 2


@dataclass
class IndexData:
    records: list[IndexRecord]
    vectors: np.ndarray
    manifest: dict[str, Any] = field(default_factory=dict)
    faiss_bytes: bytes | None = None  # serialized ANN index, when not flat


class IndexNotBuiltError(RuntimeError):
    """No index in the data directory yet: run `govbot index build`."""


def save_index(folder: Path, data: IndexData) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{int(time.time() * 1000)}")
    tmp.mkdir()
    try:
        with (tmp / "records.jsonl").open("w", encoding="utf-8") as handle:
            for record in data.records:
                handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
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


def load_index(folder: Path) -> IndexData:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise IndexNotBuiltError(f"no index in {folder}; run `govbot index build`")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexNotBuiltError(f"index in {folder} has an old format; run `govbot index build`")
    with (folder / "records.jsonl").open(encoding="utf-8") as handle:
        records = [IndexRecord.from_json(json.loads(line)) for line in handle if line.strip()]
    vectors = np.load(folder / "vectors.npy")
    ann = folder / "ann.faiss"
    return IndexData(records, vectors, manifest, ann.read_bytes() if ann.is_file() else None)


def serialize_ann(index: Any) -> bytes:
    """faiss index -> bytes, for the ann.faiss file."""
    import faiss

    return bytes(faiss.serialize_index(index).tobytes())


def deserialize_ann(data: bytes) -> Any:
    import faiss

    return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
