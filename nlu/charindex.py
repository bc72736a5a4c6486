"""Which names can still score high in a fuzzy match: a character index with an exact bound.

rapidfuzz compares a text with every name, so its cost grows with the knowledge
base (200k names: most of a message's time). But an Indel similarity can only be
as high as the characters the two strings share allow: rapidfuzz's partial_ratio
aligns the shorter string (length s) with a window of the longer one (length w),
scoring 2*LCS/(s+w), and LCS <= min(w, shared characters) = min(w, c), so
partial_ratio <= 200*c/(s+c); ratio = 200*LCS/(len1+len2) <= 200*c/(len1+len2).
Counting c for every name is a walk over the postings of the text's characters
(arrays, no Python loop over names); only the names whose bound reaches the score
that matters are scored with rapidfuzz, so the answers are the same as scoring all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

ROUNDING = 1.0
"""Slack added to each bound: rapidfuzz's integer scores (dtype=uint8) are rounded."""


class CharIndex:
    """Postings from each character to the names holding it, with its count in each name."""

    def __init__(self, names: Sequence[str]) -> None:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, name in enumerate(names):
            for char, count in Counter(name).items():
                rows.append(row)
                cols.append(vocab.setdefault(char, len(vocab)))
                counts.append(count)
        order = np.lexsort((np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)))
        self._vocab = vocab
        self._rows = np.asarray(rows, dtype=np.int32)[order]
        self._counts = np.asarray(counts, dtype=np.int16)[order]
        self._starts = np.searchsorted(np.asarray(cols, dtype=np.int64)[order], np.arange(len(vocab) + 1))
        self.lengths = np.fromiter(map(len, names), dtype=np.int32, count=len(names))

    def __len__(self) -> int:
        return len(self.lengths)

    def shared(self, text: str) -> np.ndarray:
        """Characters `text` shares with each name (counted with multiplicity)."""
        out = np.zeros(len(self.lengths), dtype=np.int32)
        for char, count in Counter(text).items():
            col = self._vocab.get(char)
            if col is None:
                continue
            lo, hi = self._starts[col], self._starts[col + 1]
            out[self._rows[lo:hi]] += np.minimum(self._counts[lo:hi], count)
        return out

    def partial_bound(self, text: str, rows: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Upper bound of partial_ratio(text, name) for the names at `rows` (0-100)."""
        shorter = np.minimum(self.lengths[rows], len(text)).astype(np.float32)
        return 200.0 * shared / np.maximum(shorter + shared, 1.0)

    def ratio_bound(self, text: str, rows: np.ndarray, shared: np.ndarray) -> np.ndarray:
        """Upper bound of ratio(text, name) for the names at `rows` (0-100)."""
        total = (self.lengths[rows] + len(text)).astype(np.float32)
        return 200.0 * shared / np.maximum(total, 1.0)
