"""Building and updating the index from the knowledge base.

Vectors are the expensive part, so they are reused for every item whose
embedded texts have not changed (from the previous folder or from the vectors the
knowledge base stores); a one-item update embeds one passage and rewrites the folder,
without a full rebuild. New vectors are returned so the caller stores them in the KB.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.ann import build_faiss_index, choose_index
from index.encoders import Encoder
from index.lexical import document_terms
from index.records import IndexRecord
from index.store import IndexData, IndexNotBuiltError, load_index, save_index, serialize_ann
from knowledge.vectors import StoredVector

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


@dataclass
class BuildReport:
    total: int
    embedded: int
    reused: int
    removed: int
    ann_kind: str
    seconds: float
    fresh: dict[str, StoredVector] = field(default_factory=dict, repr=False)  # embedded now, by id
    fresh_records: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)  # tokenised now


def to_stored(encoder_name: str, record: IndexRecord, vector: np.ndarray) -> StoredVector:
    return StoredVector(encoder_name, record.vector_key(), np.asarray(vector, dtype="<f4").tobytes())


def from_stored(
    stored: StoredVector | None, record: IndexRecord, encoder_name: str, dim: int
) -> np.ndarray | None:
    """The stored vector when it was made by this encoder from these texts, else None."""
    if stored is None or stored.encoder != encoder_name or stored.key != record.vector_key():
        return None
    vector = np.frombuffer(stored.data, dtype="<f4")
    return vector if vector.shape == (dim,) else None


def ann_bytes_for(vectors: np.ndarray, ann_params: dict[str, Any]) -> tuple[str, bytes | None]:
    """The faiss index kind for this many vectors, serialised (None for the flat scan)."""
    kind = choose_index(
        len(vectors),
        vectors.shape[1],
        flat_max=int(ann_params["flat_max"]),
        hnsw_max=int(ann_params["hnsw_max"]),
    )
    if kind == "flat" or not len(vectors):
        return kind, None
    return kind, serialize_ann(build_faiss_index(vectors, kind, ann_params))


def record_for(item: Any) -> IndexRecord:
    """The index's view of a knowledge item (guide, FAQ or policy chunk)."""
    fields = item.lexical_fields()
    names = [item.title, *getattr(item, "aliases", []), *getattr(item, "alt_questions", [])]
    return IndexRecord(
        id=item.id,
        kind=item.kind,
        title=item.title,
        parent=getattr(item, "parent", None),
        content_hash=item.content_hash(),
        names=names if item.kind != "chunk" else [],
        lexical=document_terms(fields["title"], fields["body"]),
        dense_views=item.dense_views(),
    )


def embed_views(encoder: Encoder, views: list[list[str]]) -> np.ndarray:
    """One vector per item: the normalised mean of its views' embeddings."""
    flat = [text for item_views in views for text in item_views]
    encoded = encoder.encode_passages(flat)
    out = np.zeros((len(views), encoder.dim), dtype=np.float32)
    pos = 0
    for i, item_views in enumerate(views):
        mean = encoded[pos : pos + len(item_views)].mean(axis=0)
        out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        pos += len(item_views)
    return out


def _previous(folder: Path, encoder: Encoder) -> dict[tuple[str, str], np.ndarray]:
    """(id, vector key) -> vector from the current index, when it used the same encoder."""
    try:
        old = load_index(folder, with_terms=False)  # only the vectors are reused
    except IndexNotBuiltError:
        return {}
    if old.manifest.get("encoder") != encoder.name:
        log.info("index.rebuild.encoder_changed")
        return {}
    return {(r.id, r.vector_key()): old.vectors[i] for i, r in enumerate(old.records)}


def build_index(
    items: Iterable[Any],
    encoder: Encoder,
    folder: Path,
    *,
    ann_params: dict[str, Any],
    batch_size: int = 64,
    progress: Progress | None = None,
    full: bool = False,
    known: Mapping[str, StoredVector] | None = None,
    known_records: Mapping[str, tuple[str, str]] | None = None,
    manifest_extra: dict[str, Any] | None = None,
) -> BuildReport:
    """Write the index for `items` into `folder`; reuse unchanged vectors (previous folder,
    then `known`, the knowledge base's stored vectors) unless `full`, and the stored index
    records of `known_records` (id -> (content hash, JSON), made under this lexicon)."""
    started = time.perf_counter()
    records, fresh_records = records_of(items, known_records or {})
    cache = {} if full else _previous(folder, encoder)
    known = {} if full else (known or {})
    vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
    todo: list[int] = []
    for i, record in enumerate(records):
        cached = cache.get((record.id, record.vector_key()))
        if cached is None:
            cached = from_stored(known.get(record.id), record, encoder.name, encoder.dim)
        if cached is not None:
            vectors[i] = cached
        else:
            todo.append(i)
    if progress and len(records) > len(todo):
        progress(len(records) - len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors[batch] = embed_views(encoder, [records[i].dense_views for i in batch])
        if progress:
            progress(len(batch))
    kind, ann_bytes = ann_bytes_for(vectors, ann_params)
    previous_ids = {key[0] for key in cache}
    removed = len(previous_ids - {r.id for r in records})
    manifest = {
        "encoder": encoder.name,
        "dim": encoder.dim,
        "ann_kind": kind,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(manifest_extra or {}),
    }
    save_index(folder, IndexData(records, vectors, manifest, ann_bytes))
    return BuildReport(
        total=len(records),
        embedded=len(todo),
        reused=len(records) - len(todo),
        removed=removed,
        ann_kind=kind,
        seconds=round(time.perf_counter() - started, 2),
        fresh={records[i].id: to_stored(encoder.name, records[i], vectors[i]) for i in todo},
        fresh_records=fresh_records,
    )


def records_of(
    items: Iterable[Any], known: Mapping[str, tuple[str, str]]
) -> tuple[list[IndexRecord], dict[str, tuple[str, str]]]:
    """The index records of `items`: stored ones (id -> (content hash, JSON)) where the content
    is unchanged, else made now; the second value holds those made now, for storing."""
    records, fresh = [], {}
    for item in items:
        digest = item.content_hash()
        stored = known.get(item.id)
        record = IndexRecord.reuse(stored[1], digest) if stored and stored[0] == digest else None
        if record is None:
            record = record_for(item)
            fresh[record.id] = (record.content_hash, record.dumps())
        records.append(record)
    return records, fresh


def vectors_for(
    items: Iterable[Any], encoder: Encoder, known: Mapping[str, StoredVector], batch_size: int = 64
) -> dict[str, StoredVector]:
    """Vectors for the items whose embedded texts have none from this encoder yet, so an
    import stores them in its own transaction and no worker has to embed them again."""
    records = [record_for(item) for item in items]
    todo = [r for r in records if from_stored(known.get(r.id), r, encoder.name, encoder.dim) is None]
    out: dict[str, StoredVector] = {}
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        for record, vector in zip(batch, embed_views(encoder, [r.dense_views for r in batch]), strict=True):
            out[record.id] = to_stored(encoder.name, record, vector)
    return out
