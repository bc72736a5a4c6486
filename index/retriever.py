"""Hybrid retrieval: dense (faiss), lexical (BM25) and fuzzy (rapidfuzz), fused.

Each retriever hands over the documents that can reach its leading candidates with their
exact scores (index.fusion.Sparse: dense, every document below flat_max, else its ANN
candidates; lexical, the postings left after max-score pruning; fuzzy, the names whose
character bound reaches the leading scores), so a message does not cost array passes over
the whole knowledge base; fusion turns the three lists into one ranking, and each hit keeps
the raw signals (read exactly for the hits) so that the dialogue policy can judge confidence
on calibrated, not relative, numbers.
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
from index.fusion import Sparse, rrf_fusion, top_sparse, weighted_fusion
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
        at positions `keep` followed by new ones, whose title facets only are read again (an
        incremental refresh; index/sync.py counted only the new ones' terms)."""
        self.settings = settings
        self.records: list[IndexRecord] = data.records
        self.vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
        self.manifest = data.manifest
        self._ann = deserialize_ann(data.faiss_bytes) if data.faiss_bytes else None
        if self._ann is not None:
            apply_search_params(
                self._ann, {"ef_search": settings.hnsw_ef_search, "nprobe": settings.ivf_nprobe}
            )
        self.bm25 = BM25Index.from_counts(data.term_counts())
        if previous is None:
            self._title_facets = [facets_of(r.title, "title") for r in self.records]
        else:
            new = self.records[len(keep) :]
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
        """Every document's dense score written out (-1 where the ANN did not reach)."""
        return self.dense_candidates(vector).to_dense()

    def dense_candidates(self, vector: np.ndarray) -> Sparse:
        """Every document's cosine (flat scan), or the ANN's candidates with -1 for the rest."""
        if self._ann is None:
            return Sparse.dense(self.vectors @ vector.astype(np.float32))
        sims, ids = ann_search(self._ann, vector[None, :].astype(np.float32), self.settings.candidates)
        keep = ids[0] >= 0
        return Sparse.of(ids[0][keep], sims[0][keep], len(self.records), fill=-1.0)

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
        # exact for every document a ranking of this many candidates reads
        wanted = max(self.settings.candidates, top_k)
        signals: dict[str, Sparse] = {}
        if mode in ("hybrid", "dense") and vector is not None:
            signals["dense"] = self.dense_candidates(vector)
        if mode in ("hybrid", "lexical"):
            signals["lexical"] = self.bm25.top(query_terms, wanted)
        if mode in ("hybrid", "fuzzy"):
            signals["fuzzy"] = self.fuzzy.top(search_text, wanted)
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
        leading = top_sparse(fused, top_k)
        fused_at = fused.at(leading)
        dense = signals["dense"].at(leading) if "dense" in signals else None
        lexical = self.bm25.doc_scores(query_terms, leading) if "lexical" in signals else None
        fuzzy = self.fuzzy.doc_scores(search_text, leading) if "fuzzy" in signals else None
        hits = []
        for n, pos in enumerate(leading):
            record = self.records[pos]
            raw = {
                "dense": float(dense[n]) if dense is not None else 0.0,
                "lexical": float(lexical[n]) / lexical_scale if lexical is not None else 0.0,
                "fuzzy": float(fuzzy[n]) / 100.0 if fuzzy is not None else 0.0,
            }
            hits.append(Hit(record.id, record.title, record.kind, record.parent, float(fused_at[n]), raw))
        return hits

    def _adjust_for_facets(
        self, fused: Sparse, wanted: frozenset[str], route: tuple[str, str] | None
    ) -> Sparse:
        """Re-score the leading candidates by the variant (facet) the question asks for, and by
        the direction it states (a title naming only the place left is the opposite variant)."""
        conflict = self.settings.facet_conflict_penalty
        leading = top_sparse(fused, self.settings.candidates)
        adjusted = fused.at(leading)
        for n, pos in enumerate(leading):
            adjusted[n] += facet_adjustment(
                wanted,
                self._title_facets[pos],
                bonus=self.settings.facet_bonus,
                penalty=self.settings.facet_penalty,
                conflict=conflict,
            )
            if route is not None and route_conflict(route, self.records[pos].title):
                adjusted[n] -= conflict
        rest = ~np.isin(fused.ids, leading)
        return Sparse.of(
            np.concatenate([fused.ids[rest], leading]),
            np.concatenate([fused.values[rest], adjusted]),
            fused.n,
            fused.fill,
        )
