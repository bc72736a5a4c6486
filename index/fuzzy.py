"""Fuzzy name matching with rapidfuzz: the citizen typed (part of) the service's name.

Only the names that can reach the leading scores are scored (nlu.charindex bounds
each name by the characters it shares with the question), so a message costs the
postings of its characters plus rapidfuzz on a shortlist, not rapidfuzz on every
name; the leading documents and their scores are those of scoring every name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from index.fusion import Sparse
from nlu.charindex import ROUNDING, CharIndex

SHORTLIST_FIRST = 512
"""Names scored in the first round (by bound); a second round scores every name whose
bound still reaches the k-th score found."""


def combined_scores(query: str, names: Sequence[str]) -> np.ndarray:
    """0.75 partial_ratio + 0.25 ratio of `query` with each name (float32, 0-100).

    partial_ratio alone rewards any short name found inside a long question;
    mixing in the plain ratio prefers the name that covers more of it."""
    from rapidfuzz import fuzz, process

    if not names:
        return np.zeros(0, dtype=np.float32)
    raw = process.cdist([query], names, scorer=fuzz.partial_ratio, dtype=np.uint8)[0]
    full = process.cdist([query], names, scorer=fuzz.ratio, dtype=np.uint8)[0]
    return 0.75 * raw.astype(np.float32) + 0.25 * full.astype(np.float32)


class FuzzyNames:
    """Scores each document by its best-matching name or alias (0-100)."""

    def __init__(self, names_per_doc: Sequence[Sequence[str]], *, max_scored: int = 0) -> None:
        """`max_scored` (0 = no limit): most names scored per query; where the bound lets more
        through, those with the highest bounds are scored and the rest left out (approximate)."""
        self.max_scored = max_scored
        self.choices: list[str] = []
        self.owner: list[int] = []
        for doc, names in enumerate(names_per_doc):
            for name in dict.fromkeys(n for n in names if n):
                self.choices.append(name)
                self.owner.append(doc)
        self.n_docs = len(names_per_doc)
        self._owner = np.asarray(self.owner, dtype=np.int64)
        self._first = np.searchsorted(self._owner, np.arange(self.n_docs + 1))  # a doc's names
        self._chars = CharIndex(self.choices)

    def scores(self, query: str) -> np.ndarray:
        """Every document's score, every name scored (the exhaustive computation `top` must
        agree with)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        if query and self.choices:
            np.maximum.at(out, self._owner, combined_scores(query, self.choices))
        return out

    def top(self, query: str, k: int) -> Sparse:
        """The documents with a scored name and their best scored name's score: exact for the
        k best documents and every document tied with the k-th (the ones a ranking of k
        candidates reads), unless `max_scored` cut the shortlist; the others hold what their
        scored names gave (a lower bound; unlisted: 0): read them with `doc_scores`."""
        empty = Sparse(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), self.n_docs)
        if not query or not self.choices:
            return empty
        bound = self._bound(query, self._chars.shared(query))  # 0: no shared character, score 0
        first = _highest(bound, SHORTLIST_FIRST)
        docs, values = self._score(query, first)
        kth = self._kth(docs, values, k)
        bound[first] = 0.0
        rest = np.flatnonzero(bound >= max(kth, 1e-3))
        if self.max_scored and len(first) + len(rest) > self.max_scored:
            rest = rest[_highest(bound[rest], max(self.max_scored - len(first), 0))]
        more_docs, more_values = self._score(query, rest)
        docs = np.concatenate([docs, more_docs])
        values = np.concatenate([values, more_values])
        if not len(docs):
            return empty
        return Sparse(*_best_per_doc(docs, values), self.n_docs)

    def doc_scores(self, query: str, docs: Sequence[int] | np.ndarray) -> np.ndarray:
        """The exact scores of the documents at `docs`."""
        out = np.zeros(len(docs), dtype=np.float32)
        if not query or not self.choices:
            return out
        spans = [(int(self._first[d]), int(self._first[d + 1])) for d in docs]
        values = combined_scores(query, [name for lo, hi in spans for name in self.choices[lo:hi]])
        pos = 0
        for i, (lo, hi) in enumerate(spans):
            if hi > lo:
                out[i] = values[pos : pos + hi - lo].max()
            pos += hi - lo
        return out

    def _bound(self, query: str, shared: np.ndarray) -> np.ndarray:
        """Upper bound of each name's combined score; 0 for a name sharing no character."""
        partial = self._chars.partial_bound(query, shared) + ROUNDING
        full = self._chars.ratio_bound(query, shared) + ROUNDING
        bound = 0.75 * partial + 0.25 * full
        bound[shared == 0] = 0.0
        return bound

    def _score(self, query: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(owner document, score) of the names at `rows`."""
        if not len(rows):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return self._owner[rows], combined_scores(query, [self.choices[i] for i in rows])

    @staticmethod
    def _kth(docs: np.ndarray, values: np.ndarray, k: int) -> float:
        """The k-th best document score, a document counted once at its best name (0 when
        fewer than k documents)."""
        if k <= 0 or not len(docs):
            return 0.0
        _, best = _best_per_doc(docs, values)
        if k > len(best):
            return 0.0
        return float(np.partition(best, len(best) - k)[len(best) - k])


def _best_per_doc(docs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct documents (ascending) and the best of their values."""
    union, inverse = np.unique(docs, return_inverse=True)
    best = np.zeros(len(union), dtype=np.float32)
    np.maximum.at(best, inverse, values)
    return union, best


def _highest(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` highest positive values (fewer when fewer are positive)."""
    if len(values) > n:
        top = np.argpartition(-values, n)[:n]
        return top[values[top] > 0]
    return np.flatnonzero(values > 0)
