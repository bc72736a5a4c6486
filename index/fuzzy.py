"""Fuzzy name matching with rapidfuzz: the citizen typed (part of) the service's name."""

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

    def scores(self, query: str) -> np.ndarray:
        from rapidfuzz import fuzz, process

        out = np.zeros(self.n_docs, dtype=np.float32)
        if not query or not self.choices:
            return out
        raw = process.cdist([query], self.choices, scorer=fuzz.partial_ratio, dtype=np.uint8)[0]
        full = process.cdist([query], self.choices, scorer=fuzz.ratio, dtype=np.uint8)[0]
        # partial_ratio alone rewards any short name found inside a long question;
        # mixing in the plain ratio prefers the name that covers more of it.
        combined = 0.75 * raw.astype(np.float32) + 0.25 * full.astype(np.float32)
        np.maximum.at(out, self._owner, combined)
        return out
