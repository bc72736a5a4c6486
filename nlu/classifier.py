"""A small text classifier shared by the intent and the category stages.

Character n-gram TF-IDF (robust to typos and unsegmented text) is joined with
the sentence embedding (robust to paraphrase), and a logistic regression is
trained on both. Saved with joblib under the data directory's models folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass
class Prediction:
    label: str
    confidence: float
    ranking: list[tuple[str, float]]


class TextClassifier:
    def __init__(self, *, embedding_weight: float = 1.0, c: float = 4.0) -> None:
        self.embedding_weight = embedding_weight
        self.c = c
        self._vectorizer: Any = None
        self._model: Any = None
        self.labels: list[str] = []

    def _features(self, texts: Sequence[str], vectors: np.ndarray | None) -> Any:
        from scipy.sparse import csr_matrix, hstack

        sparse = self._vectorizer.transform(list(texts))
        if vectors is None or self.embedding_weight == 0:
            return sparse
        return hstack([sparse, csr_matrix(vectors * self.embedding_weight)]).tocsr()

    def fit(self, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray | None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError("a classifier needs examples of at least two labels")
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), min_df=1, sublinear_tf=True, max_features=60000
        )
        self._vectorizer.fit(list(texts))
        features = self._features(texts, vectors)
        self._model = LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced")
        self._model.fit(features, list(labels))
        self.labels = [str(c) for c in self._model.classes_]

    def predict(self, text: str, vector: np.ndarray | None) -> Prediction:
        return self.predict_many([text], None if vector is None else vector[None, :])[0]

    def predict_many(self, texts: Sequence[str], vectors: np.ndarray | None) -> list[Prediction]:
        if self._model is None:
            raise RuntimeError("classifier is not trained")
        probs = self._model.predict_proba(self._features(texts, vectors))
        out = []
        for row in probs:
            order = np.argsort(-row)
            ranking = [(self.labels[i], float(row[i])) for i in order]
            out.append(Prediction(ranking[0][0], ranking[0][1], ranking))
        return out

    def save(self, folder: Path) -> None:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"vectorizer": self._vectorizer, "model": self._model}, folder / "model.joblib")
        meta = {"labels": self.labels, "embedding_weight": self.embedding_weight, "c": self.c}
        (folder / "config.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))

    @classmethod
    def load(cls, folder: Path) -> TextClassifier:
        import joblib

        meta = json.loads((folder / "config.json").read_text())
        clf = cls(embedding_weight=meta["embedding_weight"], c=meta["c"])
        parts = joblib.load(folder / "model.joblib")
        clf._vectorizer, clf._model = parts["vectorizer"], parts["model"]
        clf.labels = meta["labels"]
        return clf
