"""A small text classifier shared by the intent and the category stages.

Three views of a message are joined and a class-balanced logistic regression is
trained on them:

- character 1-4-gram TF-IDF (sublinear tf, n-grams seen at least twice): robust to typos, unsegmented text
  and the place names citizens write in every message;
- word 1-2-gram TF-IDF over jieba tokens (with the domain words jieba was
  taught): 工资/工伤/公交/噪音 as units, and pairs such as 拖欠 工资;
- the sentence embedding, scaled by `embedding_weight`: robust to paraphrase.

`fit(..., select_on=mask)` chooses C and the embedding weight by an inner
stratified k-fold over the masked examples (a deployment's historic tickets):
each candidate is trained on everything but one inner fold of the masked
examples and scored on that fold, so the choice is made on the deployment's own
messages and never on anything outside the training data. Without a mask (the
shipped, authored-only model) the defaults are used. What was learned is exported to
plain arrays (nlu/linear_model.py) under the data directory's models folder: predicting and
loading never import scikit-learn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nlu.linear_model import LinearTextModel, word_ngrams

Embed = Callable[[Sequence[str]], np.ndarray]

# Candidates for the inner selection: (C, embedding weight). Fixed beforehand, not tuned.
GRID: tuple[tuple[float, float], ...] = tuple((c, w) for c in (4.0, 16.0, 64.0) for w in (1.0, 2.0, 4.0))
INNER_FOLDS = 3


Features = Literal["chars", "chars+words"]
"""chars: character 1-3-grams (intents); chars+words: adds char 4-grams and jieba words (categories)."""


@dataclass
class Prediction:
    label: str
    confidence: float
    ranking: list[tuple[str, float]]


class TextClassifier:
    def __init__(
        self, *, embedding_weight: float = 1.0, c: float = 4.0, features: Features = "chars+words"
    ) -> None:
        self.embedding_weight = embedding_weight
        self.c = c
        self.features = features
        self._vectorizers: list[Any] = []
        self._linear: LinearTextModel | None = None
        self.labels: list[str] = []
        self.selection: dict[str, float] = {}

    def _sparse(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import hstack

        return hstack([v.transform(list(texts)) for v in self._vectorizers]).tocsr()

    def _join(self, sparse: Any, vectors: np.ndarray | None, weight: float) -> Any:
        from scipy.sparse import csr_matrix, hstack

        if vectors is None or weight == 0:
            return sparse
        return hstack([sparse, csr_matrix(vectors * weight)]).tocsr()

    def _fit_vectorizers(self, texts: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if self.features == "chars":
            # short, varied intent examples: every character n-gram counts, even one seen once
            chars_only = TfidfVectorizer(
                analyzer="char_wb", ngram_range=(1, 3), min_df=1, sublinear_tf=True, max_features=60000
            )
            self._vectorizers = [chars_only.fit(list(texts))]
            return

        # min_df=2 on both: an n-gram seen once (a place or estate name) cannot generalise
        kw: dict[str, Any] = {"sublinear_tf": True, "min_df": 2, "max_features": 100000}
        chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), **kw)
        words = TfidfVectorizer(analyzer=word_ngrams, **kw)
        self._vectorizers = [chars.fit(list(texts)), words.fit(list(texts))]

    @staticmethod
    def _logistic(c: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        vectors: np.ndarray | None,
        *,
        select_on: Sequence[bool] | None = None,
    ) -> None:
        if len(set(labels)) < 2:
            raise ValueError("a classifier needs examples of at least two labels")
        if select_on is not None:
            self._select(texts, labels, vectors, np.asarray(select_on, dtype=bool))
        self._fit_vectorizers(texts)
        model = self._logistic(self.c)
        model.fit(self._join(self._sparse(texts), vectors, self.embedding_weight), list(labels))
        self._linear = LinearTextModel.from_sklearn(self._vectorizers, model, self.embedding_weight)
        self.labels = self._linear.labels

    def _select(
        self, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray | None, mask: np.ndarray
    ) -> None:
        """Pick (C, embedding weight) from GRID by inner CV scored on the masked examples."""
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(labels)
        inner = np.flatnonzero(mask)
        counts = np.unique(y[inner], return_counts=True)[1]
        if len(counts) < 2 or counts.min() < INNER_FOLDS:
            return  # too few of the deployment's own examples to choose on: keep the defaults
        always = np.flatnonzero(~mask)
        grid = [(c, w) for c, w in GRID if vectors is not None or w == GRID[0][1]]
        correct = np.zeros(len(grid))
        splitter = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=0)
        for tr, te in splitter.split(inner, y[inner]):
            train, test = np.concatenate([always, inner[tr]]), inner[te]
            self._fit_vectorizers([texts[i] for i in train])
            sparse_tr, sparse_te = (
                self._sparse([texts[i] for i in train]),
                self._sparse([texts[i] for i in test]),
            )
            for k, (c, w) in enumerate(grid):
                v_tr = None if vectors is None else vectors[train]
                v_te = None if vectors is None else vectors[test]
                model = self._logistic(c).fit(self._join(sparse_tr, v_tr, w), y[train])
                correct[k] += float((model.predict(self._join(sparse_te, v_te, w)) == y[test]).sum())
        best = int(np.argmax(correct))  # ties: the first, i.e. the smaller C
        self.c, self.embedding_weight = grid[best]
        self.selection = {
            "c": self.c,
            "embedding_weight": self.embedding_weight,
            "inner_accuracy": correct[best] / len(inner),
        }

    def predict(self, text: str, vector: np.ndarray | None) -> Prediction:
        return self.predict_many([text], None if vector is None else vector[None, :])[0]

    def predict_many(self, texts: Sequence[str], vectors: np.ndarray | None) -> list[Prediction]:
        if self._linear is None:
            raise RuntimeError("classifier is not trained")
        out = []
        for row in self._linear.probabilities(texts, vectors):
            order = np.argsort(-row, kind="stable")
            ranking = [(self.labels[i], float(row[i])) for i in order]
            out.append(Prediction(ranking[0][0], ranking[0][1], ranking))
        return out

    def save(self, folder: Path) -> None:
        if self._linear is None:
            raise RuntimeError("classifier is not trained")
        folder.mkdir(parents=True, exist_ok=True)
        self._linear.save(folder)
        (folder / LEGACY_PICKLE).unlink(missing_ok=True)
        meta = {
            "labels": self.labels,
            "embedding_weight": self.embedding_weight,
            "c": self.c,
            "features": self.features,
            "selection": self.selection,
        }
        (folder / "config.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, folder: Path) -> TextClassifier:
        meta = json.loads((folder / "config.json").read_text())
        clf = cls(
            embedding_weight=meta["embedding_weight"],
            c=meta["c"],
            features=meta.get("features", "chars+words"),
        )
        if not LinearTextModel.saved_in(folder):
            _export_legacy_pickle(folder, meta["embedding_weight"])
        clf._linear = LinearTextModel.load(folder)
        clf.labels = clf._linear.labels
        clf.selection = meta.get("selection", {})
        return clf

    @staticmethod
    def saved_in(folder: Path) -> bool:
        """A trained model is in `folder` (either form)."""
        return (folder / "config.json").is_file() and (
            LinearTextModel.saved_in(folder) or (folder / LEGACY_PICKLE).is_file()
        )


LEGACY_PICKLE = "model.joblib"


def _export_legacy_pickle(folder: Path, embedding_weight: float) -> None:
    """Models trained before the array export were joblib pickles: export them once, in place."""
    import joblib

    parts = joblib.load(folder / LEGACY_PICKLE)
    vectorizers = parts.get("vectorizers") or [parts["vectorizer"]]
    LinearTextModel.from_sklearn(vectorizers, parts["model"], embedding_weight).save(folder)
