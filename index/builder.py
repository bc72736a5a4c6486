"""Building and updating the index from the knowledge base.

Vectors are the expensive part, so they are reused for every item whose
content hash has not changed; a one-item update embeds one passage and
rewrites the folder, without a full rebuild.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.ann import build_faiss_index, choose_index
from index.encoders import Encoder
from index.lexical import document_terms
from index.records import IndexRecord
from index.store import IndexData, IndexNotBuiltError, load_index, save_index, serialize_ann

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


def _embed_views(encoder: Encoder, views: list[list[str]]) -> np.ndarray:
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
        old = load_index(folder)
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
) -> BuildReport:
    """Write the index for `items` into `folder`; reuse unchanged vectors unless `full`."""
    started = time.perf_counter()
    records = [record_for(item) for item in items]
    cache = {} if full else _previous(folder, encoder)
    vectors = np.zeros((len(records), encoder.dim), dtype=np.float32)
    todo: list[int] = []
    for i, record in enumerate(records):
        cached = cache.get((record.id, record.vector_key()))
        if cached is not None:
            vectors[i] = cached
        else:
            todo.append(i)
    if progress and len(records) > len(todo):
        progress(len(records) - len(todo))
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        vectors[batch] = _embed_views(encoder, [records[i].dense_views for i in batch])
        if progress:
            progress(len(batch))
    kind = choose_index(
        len(records),
        encoder.dim,
        flat_max=int(ann_params["flat_max"]),
        hnsw_max=int(ann_params["hnsw_max"]),
    )
    ann_bytes = None
    if kind != "flat" and len(records):
        ann_bytes = serialize_ann(build_faiss_index(vectors, kind, ann_params))
    previous_ids = {key[0] for key in cache}
    removed = len(previous_ids - {r.id for r in records})
    manifest = {
        "encoder": encoder.name,
        "dim": encoder.dim,
        "ann_kind": kind,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    save_index(folder, IndexData(records, vectors, manifest, ann_bytes))
    return BuildReport(
        total=len(records),
        embedded=len(todo),
        reused=len(records) - len(todo),
        removed=removed,
        ann_kind=kind,
        seconds=round(time.perf_counter() - started, 2),
    )
