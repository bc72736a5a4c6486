"""BM25 over jieba tokens plus character bigrams, as a sparse matrix.

Bigrams catch what segmentation misses (typos, unsegmented names); title terms
are counted several times so that a match in a service's name outweighs a match
in its material list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from scipy.sparse import csc_matrix

from nlu.tokenize import content_tokens

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
TITLE_WEIGHT = 3


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


def document_terms(title: str, body: str) -> list[str]:
    return terms(title) * TITLE_WEIGHT + terms(body)


class BM25Index:
    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(docs), dtype=np.float32)
        for d, doc in enumerate(docs):
            lengths[d] = len(doc)
            for term, count in Counter(doc).items():
                rows.append(d)
                cols.append(vocab.setdefault(term, len(vocab)))
                counts.append(count)
        n = max(len(docs), 1)
        tf = np.asarray(counts, dtype=np.float32)
        row_idx = np.asarray(rows, dtype=np.int64)
        col_idx = np.asarray(cols, dtype=np.int64)
        df = np.bincount(col_idx, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if len(docs) else 1.0
        norm = k1 * (1 - b + b * lengths[row_idx] / max(avg, 1e-6))
        weights = idf[col_idx] * tf * (k1 + 1) / (tf + norm)
        self.matrix = csc_matrix((weights, (row_idx, col_idx)), shape=(len(docs), len(vocab)))
        self.vocab = vocab
        self.idf = idf

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        ids = [self.vocab[t] for t in set(query_terms) if t in self.vocab]
        if not ids:
            return np.zeros(self.matrix.shape[0], dtype=np.float32)
        return np.asarray(self.matrix[:, ids].sum(axis=1)).ravel()

    def max_possible(self, query_terms: Sequence[str]) -> float:
        """An upper bound used to turn BM25 into a 0-1 confidence signal."""
        ids = [self.vocab[t] for t in set(query_terms) if t in self.vocab]
        return float(self.idf[ids].sum()) * 2.2 if ids else 0.0
