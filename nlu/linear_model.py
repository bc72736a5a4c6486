"""The trained classifier as plain arrays: TF-IDF vocabularies, idf weights and the
logistic regression's coefficients, predicted with numpy alone.

Why: importing scikit-learn (and the scipy.stats it pulls in) and joblib-loading two
pipelines took most of `govbot ask`'s cold start, although a prediction is one sparse dot
product. Training still uses scikit-learn (nlu/classifier.py); what it learned is exported
here once and is the only thing the answer path loads. The analyzers below reproduce
scikit-learn's `char` and `char_wb` n-grams (whitespace runs folded, lower-cased) and the
project's own word n-grams; tests/nlu/test_linear_model.py checks the probabilities against
scikit-learn's on real messages.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

ARRAYS = "linear.npz"
META = "linear.json"

_WHITESPACE_RUN = re.compile(r"\s\s+")


def char_ngrams(text: str, low: int, high: int) -> list[str]:
    """Every character n-gram of the whole text (scikit-learn's analyzer="char")."""
    text = _WHITESPACE_RUN.sub(" ", text.lower())
    grams: list[str] = []
    for n in range(low, min(high, len(text)) + 1):
        grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside space-padded words (scikit-learn's analyzer="char_wb")."""
    grams: list[str] = []
    for word in _WHITESPACE_RUN.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if n >= len(padded):  # a word shorter than n counts once, whole
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[str, ...]:
    from nlu.tokenize import tokenize

    return tuple(tokenize(text.lower()))


def word_ngrams(text: str) -> list[str]:
    """jieba tokens and adjacent token pairs (the analyzer of the word TF-IDF)."""
    tokens = _tokens(text)
    return [*tokens, *(f"{a} {b}" for a, b in pairwise(tokens))]


def _analyzer(kind: str, low: int, high: int) -> Callable[[str], list[str]]:
    if kind == "char":
        return lambda text: char_ngrams(text, low, high)
    if kind == "char_wb":
        return lambda text: char_wb_ngrams(text, low, high)
    if kind == "words":
        return word_ngrams
    raise ValueError(f"unknown analyzer {kind!r}")


@dataclass
class TfidfView:
    """One TF-IDF feature block: which n-grams, their columns and idf weights."""

    kind: str
    ngram_range: tuple[int, int]
    columns: dict[str, int]
    idf: np.ndarray
    sublinear_tf: bool

    def __post_init__(self) -> None:
        self._analyze = _analyzer(self.kind, *self.ngram_range)

    def transform(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and L2-normalised tf-idf values of one text."""
        counts = Counter(c for c in map(self.columns.get, self._analyze(text)) if c is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[index]
        norm = math.sqrt(float(values @ values))
        return index, values / norm if norm else values


@dataclass
class LinearTextModel:
    """TF-IDF views, optionally the sentence embedding, then a (multinomial) logistic regression."""

    views: list[TfidfView]
    coef: np.ndarray  # (classes, features), or (1, features) for two classes
    intercept: np.ndarray
    labels: list[str]
    embedding_weight: float

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray | None) -> np.ndarray:
        scores = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            offset = 0
            for view in self.views:
                index, values = view.transform(text)
                scores[row] += self.coef[:, offset + index] @ values
                offset += len(view.idf)
            if vectors is not None and self.embedding_weight != 0:
                scores[row] += self.coef[:, offset:] @ (vectors[row] * self.embedding_weight)
        if self.coef.shape[0] == 1:  # two classes: one decision function, the logistic of it
            positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    @classmethod
    def from_sklearn(cls, vectorizers: Sequence[Any], model: Any, embedding_weight: float) -> LinearTextModel:
        """Export fitted TfidfVectorizers (analyzer char, char_wb or word_ngrams) and a LogisticRegression."""
        views = []
        for vectorizer in vectorizers:
            kind = vectorizer.analyzer if isinstance(vectorizer.analyzer, str) else "words"
            views.append(
                TfidfView(
                    kind=kind,
                    ngram_range=tuple(vectorizer.ngram_range),
                    columns={str(term): int(col) for term, col in vectorizer.vocabulary_.items()},
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                    sublinear_tf=bool(vectorizer.sublinear_tf),
                )
            )
        return cls(
            views=views,
            coef=np.asarray(model.coef_, dtype=np.float64),
            intercept=np.asarray(model.intercept_, dtype=np.float64),
            labels=[str(c) for c in model.classes_],
            embedding_weight=embedding_weight,
        )

    def save(self, folder: Path) -> None:
        arrays: dict[str, np.ndarray] = {"coef": self.coef, "intercept": self.intercept}
        meta: dict[str, Any] = {"labels": self.labels, "embedding_weight": self.embedding_weight, "views": []}
        for k, view in enumerate(self.views):
            terms = sorted(view.columns, key=view.columns.__getitem__)
            arrays[f"idf{k}"] = view.idf
            arrays[f"terms{k}"] = np.array(terms, dtype=str)
            meta["views"].append(
                {"kind": view.kind, "ngram_range": list(view.ngram_range), "sublinear_tf": view.sublinear_tf}
            )
        np.savez(folder / ARRAYS, **arrays)  # type: ignore[arg-type]
        (folder / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, folder: Path) -> LinearTextModel:
        meta = json.loads((folder / META).read_text())
        with np.load(folder / ARRAYS, allow_pickle=False) as arrays:
            views = [
                TfidfView(
                    kind=spec["kind"],
                    ngram_range=(int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                    columns={term: col for col, term in enumerate(arrays[f"terms{k}"].tolist())},
                    idf=arrays[f"idf{k}"],
                    sublinear_tf=bool(spec["sublinear_tf"]),
                )
                for k, spec in enumerate(meta["views"])
            ]
            return cls(
                views=views,
                coef=arrays["coef"],
                intercept=arrays["intercept"],
                labels=list(meta["labels"]),
                embedding_weight=float(meta["embedding_weight"]),
            )

    @staticmethod
    def saved_in(folder: Path) -> bool:
        return (folder / ARRAYS).is_file() and (folder / META).is_file()
