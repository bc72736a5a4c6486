"""BM25 over jieba tokens plus character bigrams, as a sparse matrix.

Bigrams catch what segmentation misses (typos, unsegmented names); title terms
are counted several times so that a match in a service's name outweighs a match
in its material list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, pairwise

import numpy as np
from scipy.sparse import csr_matrix, vstack

from index.fusion import Sparse
from nlu.tokenize import content_tokens, segmentation_key

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
TITLE_WEIGHT = 3
SEED_PER_CANDIDATE = 4
"""BM25Index.top: postings of the rarest terms read first, until this many per candidate wanted
(their k-th best score is the pruning bound)."""
DENSE_SHARE = 32
"""BM25Index.top: when the postings left to read hold more than 1/DENSE_SHARE as many entries
as there are documents, they are added into one array of every document (a memset and a
scatter, cheaper than gathering their union; measured at 200k items, docs/benchmarks.md 16)."""


def char_bigrams(text: str) -> list[str]:
    grams = []
    for run in _CJK_RUN.findall(text):
        grams += [run[i : i + 2] for i in range(len(run) - 1)]
    return grams


def pinyin_bigrams(text: str) -> list[str]:
    """Toneless pinyin of neighbouring characters: 结昏证 and 结婚证 share jie_hun, hun_zheng.

    Voice input and pinyin keyboards produce homophone typos (身分证, 残疾正);
    pinyin bigrams let BM25 match them without a spelling dictionary.
    """
    from pypinyin import lazy_pinyin

    grams = []
    for run in _CJK_RUN.findall(text):
        syllables = lazy_pinyin(run)
        grams += [f"{a}_{b}" for a, b in pairwise(syllables)]
    return grams


def terms(text: str) -> list[str]:
    """The lexical terms of a text: content tokens, CJK bigrams and pinyin bigrams."""
    return (
        content_tokens(text) + ["#" + g for g in char_bigrams(text)] + ["@" + g for g in pinyin_bigrams(text)]
    )


LEXICAL_FORMAT = 1  # raise when `terms` or `document_terms` change what they produce


def lexicon_key() -> str:
    """The key under which a record's lexical terms may be stored and reused: the format here,
    pypinyin's version and the tokenizer's own key (nlu.tokenize.segmentation_key)."""
    from pypinyin import __version__ as pinyin_version

    return f"{LEXICAL_FORMAT}.{TITLE_WEIGHT}.{pinyin_version}.{segmentation_key()}"


def document_terms(title: str, body: str) -> list[str]:
    return terms(title) * TITLE_WEIGHT + terms(body)


def _term_counts(docs: Sequence[Sequence[str]], vocab: dict[str, int]) -> csr_matrix:
    """Documents x terms counts; new terms are added to `vocab` in order of first occurrence.
    Python loops only over distinct terms: the per-term lookups run inside `map`."""
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    flat = list(chain.from_iterable(docs))
    for term in dict.fromkeys(flat):
        if term not in vocab:
            vocab[term] = len(vocab)
    cols = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    rows = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    counts = csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocab)))
    counts.sum_duplicates()
    return counts


@dataclass
class TermCounts:
    """How often each term occurs in each document (documents x terms, in `vocab`'s column
    order): all that BM25 needs of the documents' term lists, so an index stores and loads
    this matrix instead of every document's list of terms (index.store)."""

    counts: csr_matrix
    vocab: dict[str, int]

    @classmethod
    def of(cls, docs: Sequence[Sequence[str]]) -> TermCounts:
        vocab: dict[str, int] = {}
        return cls(_term_counts(docs, vocab), vocab)

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    def with_changes(self, keep: Sequence[int], docs: Sequence[Sequence[str]]) -> TermCounts:
        """The rows `keep` (in that order) followed by `docs`; self is untouched."""
        vocab = dict(self.vocab)
        added = _term_counts(docs, vocab)
        kept = self.counts[np.asarray(keep, dtype=np.int64)]
        kept.resize((kept.shape[0], len(vocab)))
        return TermCounts(vstack([kept, added], format="csr"), vocab)


class BM25Index:
    """BM25 weights over a term-count matrix. The counts are kept (`terms`) so that a changed
    knowledge base replaces only its changed rows (`TermCounts.with_changes`, index/sync.py); the
    weights, which depend on every document through idf and the mean length, are recomputed
    vectorised."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self._weigh(TermCounts.of(docs), k1, b)

    @classmethod
    def from_counts(cls, terms: TermCounts, *, k1: float = 1.2, b: float = 0.75) -> BM25Index:
        """The index of stored term counts (index.store), without tokenising anything."""
        out = cls.__new__(cls)
        out._weigh(terms, k1, b)
        return out

    def _weigh(self, terms: TermCounts, k1: float, b: float) -> None:
        self.k1, self.b = k1, b
        self.terms = terms
        counts, vocab = terms.counts, terms.vocab
        self.vocab = vocab
        n_docs = counts.shape[0]
        lengths = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        # on the count matrix's own arrays (no int64 coordinate copies: at 200k items, 25M
        # entries, those were most of an index load's peak memory)
        col_idx = counts.indices
        row_idx = np.repeat(np.arange(n_docs, dtype=col_idx.dtype), np.diff(counts.indptr))
        tf = counts.data.astype(np.float32, copy=False)
        self.df = np.bincount(col_idx, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((max(n_docs, 1) - self.df + 0.5) / (self.df + 0.5))
        avg = float(lengths.mean()) if n_docs else 1.0
        norm = k1 * (1 - b + b * lengths[row_idx] / max(avg, 1e-6))
        del row_idx
        weights = idf[col_idx] * tf * (k1 + 1) / (tf + norm)
        del norm
        shape = (n_docs, len(vocab))
        self.matrix = csr_matrix((weights, col_idx, counts.indptr), shape=shape).tocsc()
        self.matrix.sort_indices()  # each column's documents ascending: looked up by bisection
        self.idf = idf
        data, starts = self.matrix.data, self.matrix.indptr
        filled = np.flatnonzero(np.diff(starts) > 0)
        self.col_max = np.zeros(len(vocab), dtype=np.float64)  # a term's highest weight
        if len(filled):
            self.col_max[filled] = np.maximum.reduceat(data, starts[filled])

    def _known(self, query_terms: Sequence[str]) -> list[int]:
        """Columns of the query's terms that some document still has, ascending: every path
        adds a document's term weights in this one order, so their float32 sums agree."""
        ids = {self.vocab.get(t) for t in query_terms}
        return sorted(i for i in ids if i is not None and self.df[i] > 0)

    def _column(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.matrix.indptr[col], self.matrix.indptr[col + 1]
        return self.matrix.indices[lo:hi], self.matrix.data[lo:hi]

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """Every document's score (the exhaustive computation `top` must agree with)."""
        return self._accumulate(self._known(query_terms))

    def _accumulate(self, cols: Sequence[int]) -> np.ndarray:
        out = np.zeros(self.matrix.shape[0], dtype=np.float32)
        for col in cols:
            rows, weights = self._column(col)
            out[rows] += weights
        return out

    def doc_scores(self, query_terms: Sequence[str], docs: np.ndarray | Sequence[int]) -> np.ndarray:
        """The exact scores of the documents at `docs`: bisection in each term's postings."""
        return self._exact(self._known(query_terms), np.asarray(docs, dtype=np.int64))

    def _exact(self, cols: Sequence[int], docs: np.ndarray) -> np.ndarray:
        out = np.zeros(len(docs), dtype=np.float32)
        if not len(docs):
            return out
        for col in cols:
            rows, weights = self._column(col)
            if not len(rows):
                continue
            pos = np.minimum(np.searchsorted(rows, docs), len(rows) - 1)
            found = rows[pos] == docs
            out[found] += weights[pos[found]]
        return out

    def top(self, query_terms: Sequence[str], k: int) -> Sparse:
        """Scores exact for every document that can reach the k best (ties included); the
        others are left out (they score below the k-th, though not necessarily 0).

        Max-score pruning: the documents of the rarest terms give a score θ that the k-th best
        reaches at least; terms whose highest weights together stay below θ cannot lift a
        document holding none of the other terms into the k best, so only the postings of
        the other terms are read. The bound is taken with a relative margin of 1e-4 for
        float32 rounding of the sums (a handful of terms: under 1e-6)."""
        n = self.matrix.shape[0]
        cols = self._known(query_terms)
        if not cols or k <= 0:
            return Sparse(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), n)
        by_df = sorted(cols, key=lambda c: (self.df[c], c))
        seed_cols, seen = [], 0.0
        for col in by_df:
            seed_cols.append(col)
            seen += float(self.df[col])
            if seen >= SEED_PER_CANDIDATE * k:
                break
        theta = 0.0
        if len(seed_cols) < len(cols):
            seed = np.unique(np.concatenate([self._column(c)[0] for c in seed_cols]))
            if len(seed) >= k:
                seed_scores = self._exact(cols, seed)
                theta = float(np.partition(seed_scores, len(seed) - k)[len(seed) - k])
        essential = cols
        if theta > 0:
            by_bound = sorted(cols, key=lambda c: (self.col_max[c], c))
            reach = np.cumsum([self.col_max[c] for c in by_bound]) * (1 + 1e-4)
            skipped = int(np.searchsorted(reach, theta, side="left"))  # prefix sums below θ
            essential = by_bound[skipped:]
        if sum(float(self.df[c]) for c in essential) * DENSE_SHARE >= n:
            # a long posting walk: adding into one array of every document is cheaper than
            # gathering the union; the documents listed are then all that score above 0
            full = self._accumulate(cols)
            docs = np.flatnonzero(full)
            return Sparse(docs, full[docs], n)
        docs = np.unique(np.concatenate([self._column(c)[0] for c in essential]))
        return Sparse(docs, self._exact(cols, docs), n)

    def max_possible(self, query_terms: Sequence[str]) -> float:
        """An upper bound used to turn BM25 into a 0-1 confidence signal."""
        ids = self._known(query_terms)
        return float(self.idf[ids].sum()) * 2.2 if ids else 0.0
