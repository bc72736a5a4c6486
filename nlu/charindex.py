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
        """Built with array operations (one sort of (character, name) pairs), so that a
        200k-name index is made in about a second, not in a Python loop over names."""
        self.lengths = np.fromiter(map(len, names), dtype=np.int64, count=len(names))
        codes = np.frombuffer("".join(names).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
            np.int64
        )
        owners = np.repeat(np.arange(len(names), dtype=np.int64), self.lengths)
        pairs, counts = np.unique((codes << 32) | owners, return_counts=True)  # by character, then name
        chars = pairs >> 32
        self._rows = (pairs & 0xFFFFFFFF).astype(np.int32)
        self._counts = counts.astype(np.int16)
        vocab, firsts = np.unique(chars, return_index=True)
        self._vocab = {chr(c): i for i, c in enumerate(vocab.tolist())}
        self._starts = np.append(firsts, len(pairs))
        self.lengths = self.lengths.astype(np.float32)

    def __len__(self) -> int:
        return len(self.lengths)

    def shared(self, text: str) -> np.ndarray:
        """Characters `text` shares with each name (counted with multiplicity)."""
        once, more, weights = [], [], []
        for char, count in Counter(text).items():
            col = self._vocab.get(char)
            if col is None:
                continue
            lo, hi = self._starts[col], self._starts[col + 1]
            if count == 1:  # min(count in the name, 1) = 1 for every name holding it
                once.append(self._rows[lo:hi])
            else:
                more.append(self._rows[lo:hi])
                weights.append(np.minimum(self._counts[lo:hi], count))
        n = len(self.lengths)
        shared = np.bincount(np.concatenate(once), minlength=n) if once else np.zeros(n, dtype=np.int64)
        if more:
            shared += np.bincount(np.concatenate(more), np.concatenate(weights), minlength=n).astype(np.int64)
        return shared.astype(np.float32)

    def partial_bound(self, text: str, shared: np.ndarray) -> np.ndarray:
        """Upper bound of partial_ratio(text, name) for every name (0-100), from `shared`."""
        shorter = np.minimum(self.lengths, np.float32(len(text)))
        return 200.0 * shared / np.maximum(shorter + shared, 1.0)

    def ratio_bound(self, text: str, shared: np.ndarray) -> np.ndarray:
        """Upper bound of ratio(text, name) for every name (0-100), from `shared`."""
        return 200.0 * shared / np.maximum(self.lengths + np.float32(len(text)), 1.0)
