"""Keeping an in-process index in step with the shared knowledge base.

The knowledge base has one version that every change bumps; an index remembers the version it
reflects (`manifest["kb_version"]`). Catching up reads only the items changed since then, takes
their vectors from the database (embedding only what has none from this encoder), and builds a
new retriever next to the one in use, which the caller swaps in at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.builder import ann_bytes_for, from_stored, record_for, to_stored
from index.retriever import HybridRetriever
from index.store import IndexData, IndexNotBuiltError, load_index, save_index
from knowledge.store import KBChanges, KnowledgeStore
from knowledge.vectors import StoredVector

log = logging.getLogger(__name__)

EmbedViews = Callable[[list[list[str]]], np.ndarray]
"""Views of each item -> one normalised vector per item (index.builder.embed_views)."""


@dataclass
class SyncReport:
    version: int
    changed: int
    removed: int
    embedded: int
    seconds: float
    fresh: dict[str, StoredVector] = field(default_factory=dict, repr=False)


def kb_version_of(data: IndexData) -> int | None:
    value = data.manifest.get("kb_version")
    return int(value) if value is not None else None


def apply_changes(
    base: IndexData | None,
    changes: KBChanges,
    *,
    encoder_name: str,
    dim: int,
    embed: EmbedViews,
    ann_params: dict[str, Any],
    batch_size: int = 32,
) -> tuple[IndexData, SyncReport]:
    """`base` with `changes` applied (None: start from nothing). Pure apart from `embed`."""
    started = time.perf_counter()
    touched = {s.item.id for s in changes.items} | set(changes.removed)
    kept = [] if base is None else [i for i, r in enumerate(base.records) if r.id not in touched]
    records = [] if base is None else [base.records[i] for i in kept]
    new_records = [record_for(s.item) for s in changes.items]
    new_vectors = np.zeros((len(new_records), dim), dtype=np.float32)
    todo: list[int] = []
    for i, (stored, record) in enumerate(zip(changes.items, new_records, strict=True)):
        vector = from_stored(stored.vector, record, encoder_name, dim)
        if vector is None:
            todo.append(i)
        else:
            new_vectors[i] = vector
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        new_vectors[batch] = embed([new_records[i].dense_views for i in batch])
    old_vectors = np.zeros((0, dim), dtype=np.float32) if base is None else base.vectors[kept]
    vectors = np.vstack([old_vectors, new_vectors]).astype(np.float32)
    kind, ann = ann_bytes_for(vectors, ann_params)
    manifest = {
        **({} if base is None else base.manifest),
        "encoder": encoder_name,
        "dim": dim,
        "ann_kind": kind,
        "kb_version": changes.version,
        "kb_id": changes.kb_id,
    }
    report = SyncReport(
        version=changes.version,
        changed=len(new_records),
        removed=len(changes.removed),
        embedded=len(todo),
        seconds=round(time.perf_counter() - started, 3),
        fresh={new_records[i].id: to_stored(encoder_name, new_records[i], new_vectors[i]) for i in todo},
    )
    return IndexData(records + new_records, vectors, manifest, ann), report


class IndexSync:
    """Brings a retriever up to the knowledge base's version; never touches the one in use."""

    def __init__(
        self,
        kb: KnowledgeStore,
        *,
        encoder_name: str,
        dim: int,
        embed: EmbedViews,
        index_settings: Any,
        ann_params: dict[str, Any],
    ) -> None:
        self.kb = kb
        self.encoder_name = encoder_name
        self.dim = dim
        self.embed = embed
        self.index_settings = index_settings
        self.ann_params = ann_params

    def _apply(self, base: IndexData | None, since: int) -> tuple[IndexData, SyncReport]:
        changes = self.kb.changes_since(since)
        data, report = apply_changes(
            base,
            changes,
            encoder_name=self.encoder_name,
            dim=self.dim,
            embed=self.embed,
            ann_params=self.ann_params,
        )
        if report.fresh:
            self.kb.save_vectors(report.fresh)  # the next machine loads them instead
        log.info(
            "index.sync.applied",
            extra={
                "version": report.version,
                "changed": report.changed,
                "removed": report.removed,
                "embedded": report.embedded,
                "seconds": report.seconds,
            },
        )
        return data, report

    def bootstrap(self, folder: Path) -> tuple[HybridRetriever, SyncReport]:
        """The local folder caught up with the knowledge base, or (empty data directory, other
        encoder, no version) the whole knowledge base with its stored vectors; saved locally."""
        base: IndexData | None = None
        since = 0
        try:
            local = load_index(folder)
            version = kb_version_of(local)
            same_kb = local.manifest.get("kb_id") == self.kb.kb_id()
            if local.manifest.get("encoder") == self.encoder_name and version is not None and same_kb:
                base, since = local, version
        except IndexNotBuiltError:
            pass
        data, report = self._apply(base, since)
        if base is None or report.changed or report.removed:
            try:
                save_index(folder, data)
            except OSError as exc:  # another worker of this directory saved at the same moment
                log.warning("index.sync.save_failed", extra={"error": str(exc)[:200]})
        return HybridRetriever(data, self.index_settings), report

    def refresh(self, current: HybridRetriever) -> tuple[HybridRetriever, SyncReport] | None:
        """A new retriever when the knowledge base moved past `current`, else None."""
        have = current.manifest.get("kb_version")
        if have is None:
            return None  # an index without a version (old build): bootstrap replaces it
        if self.kb.version() <= int(have):
            return None
        base = IndexData(current.records, current.vectors, current.manifest)
        data, report = self._apply(base, int(have))
        return HybridRetriever(data, self.index_settings), report
