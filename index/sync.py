"""Keeping an in-process index in step with the shared knowledge base.

The knowledge base has one version that every change bumps; an index remembers the version it
reflects (`manifest["kb_version"]`). Catching up reads only the items changed since then, takes
their vectors and index records from the database (embedding and tokenising only what has none
usable here), and builds a new retriever next to the one in use, which the caller swaps in at
once. A refresh applies only the changes to the served retriever's structures (dense rows, BM25
rows, names); a large change or a worker far behind rebuilds everything instead (config).
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
from index.lexical import TermCounts, lexicon_key
from index.records import IndexRecord
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
    path: str = "full"  # "incremental": only the changes applied; "full": every item read
    reason: str = ""  # why a refresh took the full path
    tokenised: int = 0  # items whose stored index record could not be reused
    fresh: dict[str, StoredVector] = field(default_factory=dict, repr=False)
    fresh_records: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)


def kb_version_of(data: IndexData) -> int | None:
    value = data.manifest.get("kb_version")
    return int(value) if value is not None else None


@dataclass
class Applied:
    data: IndexData
    report: SyncReport
    keep: list[int]  # positions in the base that stayed, in order; the new records follow


def apply_changes(
    base: IndexData | None,
    changes: KBChanges,
    *,
    encoder_name: str,
    dim: int,
    embed: EmbedViews,
    ann_params: dict[str, Any],
    lexicon: str,
    batch_size: int = 32,
) -> Applied:
    """`base` with `changes` applied (None: start from nothing). Pure apart from `embed`.
    Stored index records made under `lexicon` are reused instead of tokenising again."""
    started = time.perf_counter()
    touched = {s.id for s in changes.items} | set(changes.removed)
    kept = [] if base is None else [i for i, r in enumerate(base.records) if r.id not in touched]
    records = [] if base is None else [base.records[i] for i in kept]
    new_records: list[IndexRecord] = []
    fresh_records: dict[str, tuple[str, str]] = {}
    for stored in changes.items:
        record = IndexRecord.reuse(
            stored.record if stored.record_key == lexicon else None, stored.content_hash
        )
        if record is None:
            record = record_for(stored.item)
            fresh_records[record.id] = (record.content_hash, record.dumps())
        new_records.append(record)
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
    new_terms = [r.lexical for r in new_records]
    terms = TermCounts.of(new_terms) if base is None else base.term_counts().with_changes(kept, new_terms)
    for record in new_records:
        record.lexical = []  # counted in `terms`; the lists were most of a large index's memory
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
        tokenised=len(fresh_records),
        fresh={new_records[i].id: to_stored(encoder_name, new_records[i], new_vectors[i]) for i in todo},
        fresh_records=fresh_records,
    )
    return Applied(IndexData(records + new_records, vectors, manifest, ann, terms), report, kept)


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

    def _apply(self, base: IndexData | None, changes: KBChanges) -> Applied:
        lexicon = lexicon_key()
        applied = apply_changes(
            base,
            changes,
            encoder_name=self.encoder_name,
            dim=self.dim,
            embed=self.embed,
            ann_params=self.ann_params,
            lexicon=lexicon,
        )
        report = applied.report
        if report.fresh:
            self.kb.save_vectors(report.fresh)  # the next machine loads them instead
        self.kb.save_records(report.fresh_records, lexicon)  # ... and reuses the terms
        return applied

    def _log(self, report: SyncReport) -> None:
        log.info(
            "index.sync.applied",
            extra={
                "version": report.version,
                "path": report.path,
                "reason": report.reason,
                "changed": report.changed,
                "removed": report.removed,
                "embedded": report.embedded,
                "tokenised": report.tokenised,
                "seconds": report.seconds,
            },
        )

    def bootstrap(self, folder: Path) -> tuple[HybridRetriever, SyncReport]:
        """The local folder caught up with the knowledge base, or (empty data directory, other
        encoder, no version) the whole knowledge base with its stored vectors and index records;
        saved locally."""
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
        applied = self._apply(base, self.kb.changes_since(since))
        report = applied.report
        if base is None or report.changed or report.removed:
            try:
                save_index(folder, applied.data)
            except OSError as exc:  # another worker of this directory saved at the same moment
                log.warning("index.sync.save_failed", extra={"error": str(exc)[:200]})
        self._log(report)
        return HybridRetriever(applied.data, self.index_settings), report

    def full_reason(self, current: HybridRetriever, behind: int, changed: int | None) -> str:
        """Why a refresh should rebuild the whole index ("" when applying the changes will do):
        too far behind (config index.sync_full_behind) or too large a change
        (index.sync_full_fraction of the served items)."""
        limit = int(self.index_settings.sync_full_behind)
        if behind > limit:
            return f"{behind} versions behind (more than index.sync_full_behind={limit})"
        fraction = float(self.index_settings.sync_full_fraction)
        if changed is not None and changed > fraction * max(len(current), 1):
            return (
                f"{changed} of {len(current)} items changed (more than index.sync_full_fraction={fraction})"
            )
        return ""

    def refresh(self, current: HybridRetriever) -> tuple[HybridRetriever, SyncReport] | None:
        """A new retriever when the knowledge base moved past `current`, else None: the changes
        applied to `current`'s structures, or a full rebuild (with the reason) when they are
        large or `current` is far behind."""
        started = time.perf_counter()
        have = current.manifest.get("kb_version")
        if have is None:
            return None  # an index without a version (old build): bootstrap replaces it
        latest = self.kb.version()
        if latest <= int(have):
            return None
        reason = self.full_reason(current, latest - int(have), None)
        changes = None if reason else self.kb.changes_since(int(have))
        if changes is not None:
            reason = self.full_reason(current, 0, len(changes.items) + len(changes.removed))
        if changes is None or reason:
            applied = self._apply(None, self.kb.changes_since(0))
            applied.report.reason = reason
            retriever = HybridRetriever(applied.data, self.index_settings)
        else:
            base = IndexData(current.records, current.vectors, current.manifest, terms=current.bm25.terms)
            applied = self._apply(base, changes)
            applied.report.path = "incremental"
            retriever = HybridRetriever(
                applied.data, self.index_settings, previous=current, keep=applied.keep
            )
        applied.report.seconds = round(time.perf_counter() - started, 3)
        self._log(applied.report)
        return retriever, applied.report
