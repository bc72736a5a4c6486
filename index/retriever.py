"""Hybrid retrieval: dense (faiss), lexical (BM25) and fuzzy (rapidfuzz), fused.

Each retriever scores every document (dense: or its ANN candidates; fuzzy: exactly the
documents that can reach its leading candidates, index/fuzzy.py); fusion turns the
three lists into one ranking, and each hit keeps the raw signals so that the
dialogue policy can judge confidence on calibrated, not relative, numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from index.ann import apply_search_params
from index.ann import search as ann_search
from index.facets import facet_adjustment, facets_of, route_conflict, route_of
from index.fusion import rrf_fusion, top_candidates, weighted_fusion
from index.fuzzy import FuzzyNames
from index.lexical import BM25Index, terms
from index.records import IndexRecord
from index.store import IndexData, deserialize_ann, load_index

Mode = Literal["hybrid", "dense", "lexical", "fuzzy"]


@dataclass
class Hit:
    id: str
    title: str
    kind: str
    parent: str | None
    score: float
    signals: dict[str, float] = field(default_factory=dict)

    def source(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "score": round(self.score, 4)}


class HybridRetriever:
    def __init__(
        self,
        data: IndexData,
        settings: Any,
        *,
        previous: HybridRetriever | None = None,
        keep: Sequence[int] = (),
    ) -> None:
        """The retriever over `data`. With `previous`, `data.records` are `previous`'s records
        at positions `keep` followed by new ones, and only the new ones are tokenised into the
        lexical structures (an incremental refresh; index/sync.py)."""
        self.settings = settings
        self.records: list[IndexRecord] = data.records
        self.vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
        self.manifest = data.manifest
        self._ann = deserialize_ann(data.faiss_bytes) if data.faiss_bytes else None
        if self._ann is not None:
            apply_search_params(
                self._ann, {"ef_search": settings.hnsw_ef_search, "nprobe": settings.ivf_nprobe}
            )
        if previous is None:
            self.bm25 = BM25Index([r.lexical for r in self.records])
            self._title_facets = [facets_of(r.title, "title") for r in self.records]
        else:
            new = self.records[len(keep) :]
            self.bm25 = previous.bm25.with_changes(keep, [r.lexical for r in new])
            self._title_facets = [previous._title_facets[i] for i in keep]
            self._title_facets += [facets_of(r.title, "title") for r in new]
        self.fuzzy = FuzzyNames([r.names for r in self.records], max_scored=settings.fuzzy_max_names)
        self._by_id = {r.id: i for i, r in enumerate(self.records)}

    @classmethod
    def load(cls, folder: Path, settings: Any) -> HybridRetriever:
        return cls(load_index(folder), settings)

    def __len__(self) -> int:
        return len(self.records)

    def record(self, item_id: str) -> IndexRecord | None:
        pos = self._by_id.get(item_id)
        return self.records[pos] if pos is not None else None

    def dense_scores(self, vector: np.ndarray) -> np.ndarray:
        if self._ann is None:
            return self.vectors @ vector.astype(np.float32)
        scores = np.full(len(self.records), -1.0, dtype=np.float32)
        sims, ids = ann_search(self._ann, vector[None, :].astype(np.float32), self.settings.candidates)
        keep = ids[0] >= 0
        scores[ids[0][keep]] = sims[0][keep]
        return scores

    def search(
        self,
        *,
        text: str,
        search_text: str,
        vector: np.ndarray | None,
        top_k: int | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """Ranked hits for one query; `mode` picks a single retriever for baselines."""
        top_k = top_k or self.settings.top_k
        if not self.records or not text:
            return []
        query_terms = terms(search_text)
        signals: dict[str, np.ndarray] = {}
        if mode in ("hybrid", "dense") and vector is not None:
            signals["dense"] = self.dense_scores(vector)
        if mode in ("hybrid", "lexical"):
            signals["lexical"] = self.bm25.scores(query_terms)
        if mode in ("hybrid", "fuzzy"):
            # exact for every document a ranking of this many candidates reads
            signals["fuzzy"] = self.fuzzy.scores(search_text, k=max(self.settings.candidates, top_k))
        if not signals:
            return []
        if len(signals) == 1:
            fused = next(iter(signals.values()))
        elif self.settings.fusion == "rrf":
            fused = rrf_fusion(signals, self.settings.candidates, self.settings.rrf_k)
        else:
            weights = self.settings.weights.model_dump()
            fused = weighted_fusion(signals, weights, self.settings.candidates)
        if mode == "hybrid" and self.settings.facet_penalty + self.settings.facet_bonus > 0:
            fused = self._adjust_for_facets(fused, facets_of(text, "query"), route_of(text))
        lexical_scale = self.bm25.max_possible(query_terms) or 1.0
        hits = []
        leading = top_candidates(fused, top_k)
        fuzzy = self.fuzzy.doc_scores(search_text, leading) if "fuzzy" in signals else None
        for n, pos in enumerate(leading):
            record = self.records[pos]
            raw = {
                "dense": float(signals["dense"][pos]) if "dense" in signals else 0.0,
                "lexical": float(signals["lexical"][pos]) / lexical_scale if "lexical" in signals else 0.0,
                "fuzzy": float(fuzzy[n]) / 100.0 if fuzzy is not None else 0.0,
            }
            hits.append(Hit(record.id, record.title, record.kind, record.parent, float(fused[pos]), raw))
        return hits

    def _adjust_for_facets(
        self, fused: np.ndarray, wanted: frozenset[str], route: tuple[str, str] | None
    ) -> np.ndarray:
        """Re-score the leading candidates by the variant (facet) the question asks for, and by
        the direction it states (a title naming only the place left is the opposite variant)."""
        adjusted = fused.copy()
        conflict = self.settings.facet_conflict_penalty
        for pos in top_candidates(fused, self.settings.candidates):
            adjusted[pos] += facet_adjustment(
                wanted,
                self._title_facets[pos],
                bonus=self.settings.facet_bonus,
                penalty=self.settings.facet_penalty,
                conflict=conflict,
            )
            if route is not None and route_conflict(route, self.records[pos].title):
                adjusted[pos] -= conflict
        return adjusted
