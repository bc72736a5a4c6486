"""Fuzzy name matching with rapidfuzz: the citizen typed (part of) the service's name.

Only the names that can reach the leading scores are scored (nlu.charindex bounds
each name by the characters it shares with the question), so a message costs the
postings of its characters plus rapidfuzz on a shortlist, not rapidfuzz on every
name; the leading documents and their scores are those of scoring every name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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

    def scores(self, query: str, k: int | None = None) -> np.ndarray:
        """Each document's score. With `k`, exact for the k best documents and every document
        tied with the k-th (the ones a ranking of k candidates reads), unless `max_scored` cut
        the shortlist; the others hold what their scored names gave (a lower bound, often 0):
        read them with `doc_scores`."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        if not query or not self.choices:
            return out
        if k is None:
            np.maximum.at(out, self._owner, combined_scores(query, self.choices))
            return out
        bound = self._bound(query, self._chars.shared(query))  # 0: no shared character, score 0
        first = _highest(bound, SHORTLIST_FIRST)
        self._score_into(out, query, first)
        kth = self._kth(out[np.unique(self._owner[first])], k)
        bound[first] = 0.0
        rest = np.flatnonzero(bound >= max(kth, 1e-3))
        if self.max_scored and len(first) + len(rest) > self.max_scored:
            rest = rest[_highest(bound[rest], max(self.max_scored - len(first), 0))]
        self._score_into(out, query, rest)
        return out

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

    def _score_into(self, out: np.ndarray, query: str, rows: np.ndarray) -> None:
        if len(rows):
            values = combined_scores(query, [self.choices[i] for i in rows])
            np.maximum.at(out, self._owner[rows], values)

    @staticmethod
    def _kth(scores: np.ndarray, k: int) -> float:
        """The k-th best score (0 when fewer than k documents)."""
        if k <= 0 or k > len(scores):
            return 0.0
        return float(np.partition(scores, len(scores) - k)[len(scores) - k])


def _highest(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` highest positive values (fewer when fewer are positive)."""
    if len(values) > n:
        top = np.argpartition(-values, n)[:n]
        return top[values[top] > 0]
    return np.flatnonzero(values > 0)
