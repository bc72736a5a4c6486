"""Fuzzy name matching with rapidfuzz: the citizen typed (part of) the service's name.

Scored only over the candidates the other retrievers found (a few hundred names
at most), so its cost does not grow with the knowledge base.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class FuzzyNames:
    """Scores each document by its best-matching name or alias (0-100)."""

    def __init__(self, names_per_doc: Sequence[Sequence[str]]) -> None:
        self.choices: list[str] = []
        self.owner: list[int] = []
        for doc, names in enumerate(names_per_doc):
            for name in dict.fromkeys(n for n in names if n):
                self.choices.append(name)
                self.owner.append(doc)
        self.n_docs = len(names_per_doc)
        self._owner = np.asarray(self.owner, dtype=np.int64)
        starts = np.searchsorted(self._owner, np.arange(self.n_docs + 1))
        self._first = starts  # names of doc d are choices[_first[d]:_first[d + 1]]

    def scores(self, query: str, docs: np.ndarray | None = None) -> np.ndarray:
        """Per-document score; with `docs`, only those documents are scored (the rest stay 0)."""
        from rapidfuzz import fuzz, process

        out = np.zeros(self.n_docs, dtype=np.float32)
        if not query or not self.choices:
            return out
        if docs is None:
            rows = np.arange(len(self.choices))
        else:
            spans = [np.arange(self._first[d], self._first[d + 1]) for d in np.unique(docs)]
            rows = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
        if len(rows) == 0:
            return out
        choices = [self.choices[r] for r in rows]
        raw = process.cdist([query], choices, scorer=fuzz.partial_ratio, dtype=np.uint8)[0]
        full = process.cdist([query], choices, scorer=fuzz.ratio, dtype=np.uint8)[0]
        # partial_ratio alone rewards any short name found inside a long question;
        # mixing in the plain ratio prefers the name that covers more of it.
        combined = 0.75 * raw.astype(np.float32) + 0.25 * full.astype(np.float32)
        np.maximum.at(out, self._owner[rows], combined)
        return out
